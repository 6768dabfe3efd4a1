// The official KurrentDB Node client (appends over gRPC, reads and
// subscriptions through its Rust bridge) against the in-process stand-in,
// so that the stand-in is checked by a client other than the Go one our
// adapter uses. tests/kurrent/kurrent_test.go runs it: node check.mjs
// ADDRESS [QUIET_SECONDS]. Each check prints "ok NAME" or "FAIL NAME: why";
// the exit code is the number of failures.
import {
  KurrentDBClient, jsonEvent, START, END, FORWARDS, BACKWARDS, NO_STREAM, ANY, STREAM_EXISTS,
  WrongExpectedVersionError, MaxAppendSizeExceededError, StreamNotFoundError, StreamDeletedError,
} from "@kurrent/kurrentdb-client";

const [address, quietText = "65"] = process.argv.slice(2);
const quietSeconds = Number(quietText);
const client = KurrentDBClient.connectionString(`kurrentdb://${address}?tls=false`);
let failures = 0;

async function check(name, fn) {
  try {
    await fn();
    console.log(`ok ${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e?.constructor?.name} ${e?.message ?? e}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function refused(promise, type) {
  try {
    await promise;
  } catch (e) {
    assert(e instanceof type, `refused with ${e?.constructor?.name} (${e?.message}), want ${type.name}`);
    return e;
  }
  throw new Error(`succeeded, want ${type.name}`);
}

const event = (type, data = {}) => jsonEvent({ type, data });

async function collect(iterable) {
  const out = [];
  for await (const e of iterable) out.push(e.event);
  return out;
}

// The quiet subscription starts first and is checked last: it must still
// deliver after quietSeconds without traffic, past the client's keep-alive
// pings (every 10 s).
const subscription = client.subscribeToAll({ fromPosition: END });
const afterQuiet = new Promise((resolve, reject) => {
  subscription.on("data", (e) => { if (e.event?.type === "after-the-quiet") resolve(e.event); });
  subscription.on("error", reject);
  subscription.on("close", () => reject(new Error("the subscription closed")));
});
const quietEnds = Date.now() + quietSeconds * 1000;

await check("appends with expected revisions", async () => {
  const r = await client.appendToStream("node-rev", [event("a"), event("b")], { streamState: NO_STREAM });
  assert(r.success && r.nextExpectedRevision === 1n, `first append: ${JSON.stringify(r, (_, v) => typeof v === "bigint" ? String(v) : v)}`);
  const again = await refused(client.appendToStream("node-rev", [event("c")], { streamState: NO_STREAM }), WrongExpectedVersionError);
  assert(again.actualState === 1n && again.expectedState === "no_stream", `no_stream refusal says ${again.expectedState}/${again.actualState}`);
  const stale = await refused(client.appendToStream("node-rev", [event("c")], { streamState: 0n }), WrongExpectedVersionError);
  assert(stale.actualState === 1n && stale.expectedState === 0n, `revision refusal says ${stale.expectedState}/${stale.actualState}`);
  await client.appendToStream("node-rev", [event("c")], { streamState: 1n });
  await client.appendToStream("node-rev", [event("d")], { streamState: STREAM_EXISTS });
  await client.appendToStream("node-rev", [event("e")], { streamState: ANY });
  await refused(client.appendToStream("node-none", [event("a")], { streamState: STREAM_EXISTS }), WrongExpectedVersionError);
  const evs = await collect(client.readStream("node-rev", { fromRevision: START, direction: FORWARDS, maxCount: 100 }));
  assert(evs.map((e) => e.type).join("") === "abcde", `stream holds ${evs.map((e) => e.type).join("")}`);
  const back = await collect(client.readStream("node-rev", { fromRevision: END, direction: BACKWARDS, maxCount: 2 }));
  assert(back.map((e) => e.type).join("") === "ed", `backwards: ${back.map((e) => e.type).join("")}`);
});

await check("a retried append is written once", async () => {
  const same = [event("once"), event("twice")];
  await client.appendToStream("node-retry", same, { streamState: NO_STREAM });
  await client.appendToStream("node-retry", same, { streamState: NO_STREAM });
  const evs = await collect(client.readStream("node-retry", { maxCount: 10 }));
  assert(evs.length === 2, `${evs.length} events after a retry`);
});

let all = [];
await check("$all pages by the positions it returns", async () => {
  for (let i = 0; i < 30; i++) {
    await client.appendToStream(`node-page-${i % 3}`, Array.from({ length: 100 }, () => event("paged")), { streamState: ANY });
  }
  all = await collect(client.readAll({ fromPosition: START, maxCount: 100000 }));
  const paged = [];
  let from = START;
  for (;;) {
    const page = await collect(client.readAll({ fromPosition: from, maxCount: 500 }));
    // A page from an event's own position starts with that event.
    const fresh = from === START ? page : page.slice(1);
    paged.push(...fresh);
    if (page.length < 500) break;
    from = page[page.length - 1].position;
  }
  assert(paged.length === all.length, `${paged.length} events paged, ${all.length} in one read`);
  for (let i = 0; i < all.length; i++) {
    assert(paged[i].id === all[i].id, `event ${i} differs`);
    if (i > 0) assert(all[i].position.commit > all[i - 1].position.commit, `positions not increasing at ${i}`);
  }
  const backwards = await collect(client.readAll({ fromPosition: END, direction: BACKWARDS, maxCount: 3 }));
  assert(backwards[0].id === all[all.length - 1].id, "backwards from the end does not start at the last event");
});

await check("a position inside an event is refused", async () => {
  const p = all[all.length - 10].position;
  let error;
  try {
    await collect(client.readAll({ fromPosition: { commit: p.commit + 1n, prepare: p.prepare + 1n }, maxCount: 5 }));
  } catch (e) {
    error = e;
  }
  assert(error && /invalid position/i.test(error.message), `read from inside an event: ${error ? error.message : "served"}`);
});

await check("an append above the maximum size is refused", async () => {
  const big = jsonEvent({ type: "big", data: { blob: "x".repeat(1024 * 1024) } });
  const e = await refused(client.appendToStream("node-big", [big], { streamState: ANY }), MaxAppendSizeExceededError);
  assert(e.maxAppendSize === 1048576, `maximum ${e.maxAppendSize}`);
  const fits = jsonEvent({ type: "fits", data: { blob: "x".repeat(1000 * 1000) } });
  await client.appendToStream("node-big", [fits], { streamState: ANY });
});

await check("deletes honour expected revisions", async () => {
  await client.appendToStream("node-del", [event("a"), event("b")], { streamState: NO_STREAM });
  const e = await refused(client.deleteStream("node-del", { expectedRevision: 0n }), WrongExpectedVersionError);
  assert(e.streamName === "node-del", `refusal names ${e.streamName}`);
  await client.deleteStream("node-del", { expectedRevision: 1n });
  await refused(collect(client.readStream("node-del", { maxCount: 10 })), StreamNotFoundError);
  // Written again, the stream continues its revisions after the delete.
  const r = await client.appendToStream("node-del", [event("c")], { streamState: ANY });
  assert(r.nextExpectedRevision === 2n, `revision after the delete: ${r.nextExpectedRevision}`);
  await client.deleteStream("node-never", { expectedRevision: NO_STREAM });
  await refused(client.deleteStream("node-never-2", { expectedRevision: 3n }), WrongExpectedVersionError);
});

await check("a tombstoned stream is refused for good", async () => {
  await client.appendToStream("node-tomb", [event("a")], { streamState: NO_STREAM });
  await refused(client.tombstoneStream("node-tomb", { expectedRevision: 5n }), WrongExpectedVersionError);
  await client.tombstoneStream("node-tomb", { expectedRevision: 0n });
  await refused(client.appendToStream("node-tomb", [event("b")], { streamState: ANY }), StreamDeletedError);
  await refused(collect(client.readStream("node-tomb", { maxCount: 10 })), StreamDeletedError);
});

await check(`a subscription quiet for ${quietSeconds} s still delivers`, async () => {
  await new Promise((r) => setTimeout(r, Math.max(0, quietEnds - Date.now())));
  await client.appendToStream("node-quiet", [event("after-the-quiet")], { streamState: ANY });
  const got = await Promise.race([afterQuiet, new Promise((_, reject) => setTimeout(() => reject(new Error("nothing arrived in 10 s")), 10000))]);
  assert(got.streamId === "node-quiet", `arrived from ${got.streamId}`);
});

await subscription.unsubscribe().catch(() => {});
await client.dispose();
process.exit(failures);
