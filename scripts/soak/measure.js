// What scripts/soak.js measures and checks: sessions and objects left on the tokens, find
// operations left open, and the process's memory (with --malloc-stats, glibc's figures too).
'use strict';
const { smapsRollup } = require('../soak-memory.js');

/** Open sessions per slot, by asking the module about every handle it can have given out. */
function probeSessions(mod, maxHandle) {
  const bySlot = {};
  for (let h = 1; h <= maxHandle + 32; h++) {
    try {
      const i = mod.C_GetSessionInfo(h);
      bySlot[String(i.slotID)] = (bySlot[String(i.slotID)] || 0) + 1;
    } catch (e) {
      if (e.rvName !== 'CKR_SESSION_HANDLE_INVALID') throw e;
    }
  }
  return bySlot;
}

function sessionCounts(ctx) {
  const probe = probeSessions(ctx.mod, ctx.maxHandle);
  const out = {};
  for (const [key, slot] of Object.entries(ctx.slots)) {
    const t = ctx.mod.C_GetTokenInfo(slot);
    const known = (v) => (typeof v === 'bigint' || Number(v) > Number.MAX_SAFE_INTEGER ? null : Number(v));
    out[key] = { probe: probe[String(slot)] || 0, tokenInfo: { sessionCount: known(t.sessionCount), rwSessionCount: known(t.rwSessionCount) } };
  }
  return out;
}

function objectCount(mod, session) {
  mod.C_FindObjectsInit(session, []);
  let n = 0;
  for (;;) {
    const batch = mod.C_FindObjects(session, 256);
    n += batch.length;
    if (batch.length === 0) break;
  }
  mod.C_FindObjectsFinal(session);
  return n;
}

async function findInitWorks(raw, session) {
  try {
    await raw.C_FindObjectsInitAsync(session, []);
    await raw.C_FindObjectsFinalAsync(session);
    return true;
  } catch (e) {
    return `${e.rvName || e.message}`;
  }
}

/** Memory now; ctx.mallinfo: bench/soak/mallinfo.c's helper, with --malloc-stats (else null). */
function memory(ctx) {
  const m = process.memoryUsage();
  const mb = (x) => Math.round((x / 1048576) * 100) / 100;
  const out = { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external), arrayBuffersMb: mb(m.arrayBuffers) };
  // With --malloc-stats: malloc memory in use. Read after settle()'s GCs it has no garbage-bound
  // buffers in it (between GCs it saws by 1-2 MB), so it is the figure that shows a native leak.
  if (ctx.mallinfo) {
    const i = ctx.mallinfo.stats();
    out.mallocInUseMb = Math.round(((i.uordblks + i.hblkhd) / 1048576) * 1000) / 1000;
  }
  return out;
}

/** One memory sample during a phase: what RSS is made of, as far as the process can tell. */
function sampleMemory(ctx, calls) {
  const m = process.memoryUsage();
  const mb = (x) => Math.round((x / 1048576) * 1000) / 1000;
  const sm = smapsRollup();
  const s = {
    calls,
    rssMb: mb(m.rss),
    anonMb: sm ? sm.Anonymous : null,
    privateDirtyMb: sm ? sm.Private_Dirty : null,
    heapUsedMb: mb(m.heapUsed),
    heapTotalMb: mb(m.heapTotal),
    externalMb: mb(m.external),
    arrayBuffersMb: mb(m.arrayBuffers),
  };
  // Anonymous memory outside V8's heap: V8 grows and shrinks its old generation by tens of MB at
  // moments of its choosing (a leak-free run has seen heapTotal go 40 -> 23 MB), which swamps a
  // native slope in RSS; this figure does not move with it.
  s.anonNonV8Mb = sm ? Math.round((sm.Anonymous - s.heapTotalMb) * 1000) / 1000 : null;
  if (ctx.mallinfo) {
    const i = ctx.mallinfo.stats();
    Object.assign(s, { mallocInUseMb: mb(i.uordblks + i.hblkhd), mallocFreeMb: mb(i.fordblks), mallocHeldMb: mb(i.arena + i.hblkhd), arenas: i.arenas });
  }
  const t = ctx.mod.moduleInfo().threads;
  s.threadsAlive = t.alive;
  s.threadsStarted = t.started;
  return s;
}

async function settle() {
  for (let i = 0; i < 4; i++) {
    global.gc();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 20));
  }
}

module.exports = { sessionCounts, objectCount, findInitWorks, memory, sampleMemory, settle };
