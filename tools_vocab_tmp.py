import json,re
def per(p):
    u=p['unit']; c=p.get('counting','')
    if u=='later_of': return 'later of: '+'; '.join(per(q) for q in p['of'])
    frm=f" from `{p['from_attr']}`" if p.get('from_attr') else ''
    if u in('weeks','days','months','working_days'):
        s=f"{p['n']} {u.replace('_',' ')}{frm}"
        if c=='beginning_with': s+=' beginning with the start'
        elif c=='of': s+=' of the start'
    elif u=='fixed_date':
        s=('before ' if c=='before' else 'by ')+f"{p['day']}/{p['month']} of `{p['year_attr']}`"
    elif u=='attr_date':
        s=('before ' if c=='before' else 'by ')+f"`{p['date_attr']}`"
    if p.get('tribunal_rules'): s+=', tribunal counting (HESC r12)'
    return s
def m(x):
    s=f"`{x['event']}`"
    if x.get('when'): s+=' ('+', '.join(f'{k}={v}' for k,v in x['when'].items()).replace('|','\\|')+')'
    if x.get('key'): s+=f" key {x['key']}"
    if x.get('key_attr'): s+=f" key=`{x['key_attr']}`"
    if x.get('latest'): s+=' (latest)'
    if x.get('period'): s+=f" [{per(x['period'])}]"
    if x.get('overdue_is_at_risk'): s+=' (overdue is a risk, not a breach)'
    if x.get('in_force_from') or x.get('in_force_until'): s+=f" (in force {x.get('in_force_from','')}..{x.get('in_force_until','')})"
    return s
def table(clocks):
    out=['| clock | period | started by | stopped by | ended by | exceptions | source |','|---|---|---|---|---|---|---|']
    for c in clocks:
        stops='; '.join(m(x) for x in c.get('stops',[]))
        if c.get('extends'): stops+='; extended by '+'; '.join(m(x) for x in c['extends'])
        if c.get('lapses_at_due'): stops+='; lapses (ended) at due'
        ex=', '.join(e['kind']+(f" ({e['min_days']} days+ inside the period)" if e.get('min_days') else '')+(f" ({e['in_force_from']}..{e['in_force_until']})" if e.get('in_force_from') else '') for e in c.get('exceptions',[]))
        if c.get('limit_of'): stops+=f"; the {c['limit_of'].replace('_',' ')}'s limit, not the LA's breach"
        if c.get('overdue_is_at_risk'): stops+='; overdue is a risk, not a breach'
        out.append(f"| {c['name']} | {per(c['period'])} | {'; '.join(m(x) for x in c['starts'])} | {stops} | {'; '.join(m(x) for x in c.get('ends',[]))} | {ex} | {c['source']} |")
    return '\n'.join(out)
a=json.load(open('domain/rulebooks/england-2014.json'))
b=json.load(open('domain/rulebooks/reform-2023.json'))
doc=open('docs/vocabulary.md').read()
start=doc.index('### `england-2014` clocks')
end=doc.index('### `reform-2023` clocks')
new='### `england-2014` clocks\n\n'+table(a['clocks'])+'\n\n'
doc=doc[:start]+new+doc[end:]
open('docs/vocabulary.md','w').write(doc)
