package tlog

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The tree is kept in tiles, as Go's checksum database and Tessera keep
// theirs: a tile of level L holds up to 256 consecutive node hashes of the
// tree's level 8L, left to right. Level-0 tiles hold the leaf hashes; every
// other node is either in a tile or computed from at most 128 hashes of the
// tile below it. A national store's 21.8M leaves take 85,000 level-0 tiles
// (700 MB), written as their events are applied, one tile row per 256 events
// rather than one row per event.
const (
	tileHeight = 8
	tileWidth  = 1 << tileHeight
	hashSize   = 32
)

// Schema is the tree's tables in the views database. Like every view, they
// are rebuilt from the log; the signed checkpoints are not a view but the
// record of what was published, and a rebuild keeps them.
const Schema = `
CREATE TABLE IF NOT EXISTS tlog_tiles (
	level  INTEGER NOT NULL,
	idx    INTEGER NOT NULL,
	hashes BLOB    NOT NULL,
	PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tlog_leaves (
	position INTEGER PRIMARY KEY,
	leaf     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tlog_state (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	size     INTEGER NOT NULL,
	position INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tlog_checkpoints (
	size      INTEGER PRIMARY KEY,
	root      BLOB    NOT NULL,
	signed       TEXT NOT NULL,
	cosignatures TEXT NOT NULL,
	signed_at    TEXT NOT NULL
);
`

// tile is the rightmost tile of a level as the writer grows it.
type tile struct {
	idx    int64
	hashes []byte
	dirty  bool
}

// Log is the Merkle tree of the event log, maintained as events are applied
// (Append, in the views' transaction) and read by proofs (Root, Inclusion,
// Consistency) from what is committed. One goroutine appends; any number
// read.
type Log struct {
	db *sql.DB
	rf compact.RangeFactory

	mu       sync.Mutex // guards the committed state below, which readers see
	size     int64
	position int64
	root     []byte

	// The writer's state, ahead of the committed state between Append and
	// Committed.
	rng   *compact.Range
	tiles []tile
	last  int64 // global position of the last leaf appended
	full  []tileRow
}

// tileRow is a tile to write.
type tileRow struct {
	level, idx int64
	hashes     []byte
}

// OpenLog makes the tree's tables in the views database if they are
// missing and loads the tree as last committed.
func OpenLog(ctx context.Context, db *sql.DB) (*Log, error) {
	if _, err := db.ExecContext(ctx, Schema); err != nil {
		return nil, fmt.Errorf("tree schema: %w", err)
	}
	l := &Log{db: db, rf: compact.RangeFactory{Hash: hashChildren}}
	return l, l.Reload(ctx)
}

// OpenOrRegrow opens the tree as OpenLog does for the projections that
// grow it: a tree that cannot be read (a tile lost with the views file's
// last writes) is emptied, to be grown again from the log like any view.
// Verification uses OpenLog, and reports such a tree instead.
func OpenOrRegrow(ctx context.Context, db *sql.DB) (*Log, error) {
	l, err := OpenLog(ctx, db)
	if err == nil || l == nil {
		return l, err
	}
	if rerr := l.reset(ctx); rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	return l, l.Reload(ctx)
}

// reset empties the tree in one transaction; the signed checkpoints stay.
func (l *Log) reset(ctx context.Context) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, ResetSQL); err != nil {
		return err
	}
	return tx.Commit()
}

// Reload discards the writer's state and loads the tree as last committed:
// after a failed transaction, the writer starts again from what is stored.
func (l *Log) Reload(ctx context.Context) error {
	l.rng = nil // until loaded: Append reloads a writer that failed to
	var size, position int64
	err := l.db.QueryRowContext(ctx, `SELECT size, position FROM tlog_state WHERE id = 1`).Scan(&size, &position)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	r := newReader(l.db)
	ids := compact.RangeNodes(0, uint64(size), nil)
	hashes := make([][]byte, len(ids))
	for i, id := range ids {
		if hashes[i], err = r.node(ctx, id, size); err != nil {
			return fmt.Errorf("load the tree of %d events: %w", size, err)
		}
	}
	rng, err := l.rf.NewRange(0, uint64(size), hashes)
	if err != nil {
		return err
	}
	var tiles []tile
	for level := int64(0); size>>(tileHeight*level) > 0; level++ {
		n := size >> (tileHeight * level) // the nodes of the tree's level 8*level
		t := tile{idx: n / tileWidth}
		if k := n % tileWidth; k > 0 {
			blob, err := r.tile(ctx, level, t.idx)
			if err != nil {
				return err
			}
			if int64(len(blob)) < k*hashSize {
				return fmt.Errorf("tree tile %d/%d holds %d hashes, fewer than the %d the tree's size needs", level, t.idx, len(blob)/hashSize, k)
			}
			t.hashes = append([]byte(nil), blob[:k*hashSize]...)
		}
		tiles = append(tiles, t)
	}
	root, err := rootOf(rng)
	if err != nil {
		return err
	}
	l.rng, l.tiles, l.last, l.full = rng, tiles, position, nil
	l.mu.Lock()
	l.size, l.position, l.root = size, position, root
	l.mu.Unlock()
	return nil
}

// rootOf is a range's root hash, the empty tree's included.
func rootOf(r *compact.Range) ([]byte, error) {
	if r.End() == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), nil
	}
	return r.GetRootHash(nil)
}

// Position is the global position of the last event in the committed tree.
func (l *Log) Position() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.position
}

// Head returns the committed tree's size and root.
func (l *Log) Head() (int64, []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size, l.root
}

// Append adds the events past the tree's last position as leaves, writing
// the tiles they change within tx, the views' transaction, so that the tree
// and the views commit together. Call Committed after tx commits, and
// Reload if it does not.
func (l *Log) Append(ctx context.Context, tx *sql.Tx, events []eventstore.RecordedEvent) error {
	if l.rng == nil {
		if err := l.Reload(ctx); err != nil {
			return err
		}
	}
	var mapped *sql.Stmt
	for _, e := range events {
		if e.Position <= l.last {
			continue
		}
		leaf := int64(l.rng.End())
		if e.Position != leaf+1 {
			// KurrentDB's positions are offsets, and a store with a gap is
			// off by the events missing: the leaf is then looked up.
			if mapped == nil {
				var err error
				if mapped, err = tx.PrepareContext(ctx, `INSERT OR REPLACE INTO tlog_leaves (position, leaf) VALUES (?, ?)`); err != nil {
					return err
				}
				defer mapped.Close()
			}
			if _, err := mapped.ExecContext(ctx, e.Position, leaf); err != nil {
				return err
			}
		}
		if err := l.rng.Append(leafHash(e), l.visit); err != nil {
			return err
		}
		l.last = e.Position
	}
	rows := l.full
	for level := range l.tiles {
		if t := &l.tiles[level]; t.dirty {
			rows = append(rows, tileRow{int64(level), t.idx, t.hashes})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO tlog_tiles (level, idx, hashes) VALUES (?, ?, ?)
		ON CONFLICT(level, idx) DO UPDATE SET hashes = excluded.hashes`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r.level, r.idx, r.hashes); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO tlog_state (id, size, position) VALUES (1, ?, ?)
		ON CONFLICT(id) DO UPDATE SET size = excluded.size, position = excluded.position`, int64(l.rng.End()), l.last)
	return err
}

// visit files every node of a tile level (0, 8, 16, ...) as the compact
// range computes it; the nodes of a level come left to right.
func (l *Log) visit(id compact.NodeID, hash []byte) {
	if id.Level%tileHeight != 0 {
		return
	}
	level := int(id.Level / tileHeight)
	for len(l.tiles) <= level {
		l.tiles = append(l.tiles, tile{})
	}
	t := &l.tiles[level]
	if idx := int64(id.Index / tileWidth); idx != t.idx {
		// The tile is full: it is written with this batch, and a new one begins.
		l.full = append(l.full, tileRow{int64(level), t.idx, t.hashes})
		*t = tile{idx: idx, hashes: make([]byte, 0, tileWidth*len(hash))}
	}
	t.hashes = append(t.hashes, hash...)
	t.dirty = true
}

// Committed publishes what the last Appends wrote, once their transaction
// has committed.
func (l *Log) Committed() error {
	root, err := rootOf(l.rng)
	if err != nil {
		return err
	}
	for i := range l.tiles {
		l.tiles[i].dirty = false
	}
	l.full = nil
	l.mu.Lock()
	l.size, l.position, l.root = int64(l.rng.End()), l.last, root
	l.mu.Unlock()
	return nil
}

// ResetSQL empties the tree, for a rebuild from the first event; the
// signed checkpoints stay. Run it in a transaction, and Reload after it.
const ResetSQL = `DELETE FROM tlog_state; DELETE FROM tlog_tiles; DELETE FROM tlog_leaves;`

// reader reads committed nodes, caching the tiles it has read.
type reader struct {
	db    *sql.DB
	cache map[[2]int64][]byte
}

func newReader(db *sql.DB) *reader { return &reader{db: db, cache: map[[2]int64][]byte{}} }

func (r *reader) tile(ctx context.Context, level, idx int64) ([]byte, error) {
	if b, ok := r.cache[[2]int64{level, idx}]; ok {
		return b, nil
	}
	var b []byte
	err := r.db.QueryRowContext(ctx, `SELECT hashes FROM tlog_tiles WHERE level = ? AND idx = ?`, level, idx).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("tree tile %d/%d is missing", level, idx)
	}
	if err != nil {
		return nil, err
	}
	r.cache[[2]int64{level, idx}] = b
	return b, nil
}

// node returns the hash of a complete node of the tree of size leaves.
func (r *reader) node(ctx context.Context, id compact.NodeID, size int64) ([]byte, error) {
	if begin, end := id.Coverage(); end > uint64(size) || begin >= end {
		return nil, fmt.Errorf("node %d/%d is not complete in a tree of %d", id.Level, id.Index, size)
	}
	level := int64(id.Level / tileHeight)
	sub := id.Level % tileHeight
	first := int64(id.Index << sub) // its leftmost descendant in the tile level
	count := int64(1) << sub
	b, err := r.tile(ctx, level, first/tileWidth)
	if err != nil {
		return nil, err
	}
	off := first % tileWidth
	if int64(len(b)) < (off+count)*hashSize {
		return nil, fmt.Errorf("tree tile %d/%d holds %d hashes, too few for node %d/%d", level, first/tileWidth, len(b)/hashSize, id.Level, id.Index)
	}
	hs := make([][]byte, count)
	for i := range hs {
		hs[i] = b[(off+int64(i))*hashSize : (off+int64(i)+1)*hashSize]
	}
	for len(hs) > 1 {
		for i := 0; i < len(hs)/2; i++ {
			hs[i] = hashChildren(hs[2*i], hs[2*i+1])
		}
		hs = hs[:len(hs)/2]
	}
	return hs[0], nil
}

func (r *reader) nodes(ctx context.Context, ids []compact.NodeID, size int64) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		var err error
		if out[i], err = r.node(ctx, id, size); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkSize refuses a size beyond the committed tree.
func (l *Log) checkSize(size int64) error {
	have, _ := l.Head()
	if size < 0 || size > have {
		return fmt.Errorf("the tree has %d events; there is no tree of size %d", have, size)
	}
	return nil
}

// RootAt returns the root of the tree of the log's first size events.
func (l *Log) RootAt(ctx context.Context, size int64) ([]byte, error) {
	if err := l.checkSize(size); err != nil {
		return nil, err
	}
	r := newReader(l.db)
	hashes, err := r.nodes(ctx, compact.RangeNodes(0, uint64(size), nil), size)
	if err != nil {
		return nil, err
	}
	rng, err := l.rf.NewRange(0, uint64(size), hashes)
	if err != nil {
		return nil, err
	}
	return rootOf(rng)
}

// LeafIndex returns the leaf of the event at a global position.
func (l *Log) LeafIndex(ctx context.Context, position int64) (int64, error) {
	var leaf int64
	err := l.db.QueryRowContext(ctx, `SELECT leaf FROM tlog_leaves WHERE position = ?`, position).Scan(&leaf)
	if errors.Is(err, sql.ErrNoRows) {
		return position - 1, nil
	}
	return leaf, err
}

// Inclusion returns the proof that leaf index is in the tree of size
// leaves (RFC 9162 section 2.1.3).
func (l *Log) Inclusion(ctx context.Context, index, size int64) ([][]byte, error) {
	return l.Proofs(ctx, []int64{index}, size)
}

// Proofs returns an inclusion proof for each leaf index in the tree of size
// leaves, reading each tile once.
func (l *Log) Proofs(ctx context.Context, indexes []int64, size int64) ([][]byte, error) {
	if err := l.checkSize(size); err != nil {
		return nil, err
	}
	r := newReader(l.db)
	var out [][]byte
	for _, index := range indexes {
		if index < 0 || index >= size {
			return nil, fmt.Errorf("leaf %d is not in the tree of %d", index, size)
		}
		n, err := proof.Inclusion(uint64(index), uint64(size))
		if err != nil {
			return nil, err
		}
		hashes, err := r.nodes(ctx, n.IDs, size)
		if err != nil {
			return nil, err
		}
		p, err := n.Rehash(hashes, hashChildren)
		if err != nil {
			return nil, err
		}
		out = append(out, bytes.Join(p, nil))
	}
	return out, nil
}

// Consistency returns the proof that the tree of size2 leaves extends the
// tree of size1 (RFC 9162 section 2.1.4).
func (l *Log) Consistency(ctx context.Context, size1, size2 int64) ([][]byte, error) {
	if err := l.checkSize(size2); err != nil {
		return nil, err
	}
	n, err := proof.Consistency(uint64(size1), uint64(size2))
	if err != nil {
		return nil, err
	}
	hashes, err := newReader(l.db).nodes(ctx, n.IDs, size2)
	if err != nil {
		return nil, err
	}
	return n.Rehash(hashes, hashChildren)
}

// LeafHashes calls fn with each committed leaf hash from leaf index from,
// in order, reading the level-0 tiles as Scan does: what the tree recorded
// of each event when it was applied.
func (l *Log) LeafHashes(ctx context.Context, from int64, fn func(index int64, hash []byte) error) error {
	size, _ := l.Head()
	r := &leafReader{l: l}
	for i := max(from, 0); i < size; i++ {
		h, err := r.at(ctx, i)
		if err != nil {
			return err
		}
		if err := fn(i, h); err != nil {
			return err
		}
	}
	return nil
}

// leafReader reads a tree's committed leaf hashes in order, one level-0
// tile at a time.
type leafReader struct {
	l    *Log
	idx  int64
	tile []byte
}

func (r *leafReader) at(ctx context.Context, index int64) ([]byte, error) {
	if idx := index / tileWidth; r.tile == nil || idx != r.idx {
		b, err := newReader(r.l.db).tile(ctx, 0, idx)
		if err != nil {
			return nil, err
		}
		r.idx, r.tile = idx, b
	}
	off := index % tileWidth
	if int64(len(r.tile)) < (off+1)*hashSize {
		return nil, fmt.Errorf("tree tile 0/%d holds no leaf %d", r.idx, index)
	}
	return r.tile[off*hashSize : (off+1)*hashSize], nil
}
