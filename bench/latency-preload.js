/* Where an access's time goes, inside the service (issue 23, the p99 target): preloaded into the
 * service bench:access starts, it writes every 5 s one line per kind of work with its count, p50,
 * p99 and max in ms: PostgreSQL statements by kind (stream reads, the append, projection
 * BEGIN/checkpoint/COMMIT, the auditor's and ingester's own writes), HTTP requests out by port
 * (58200: OpenBao), HTTP requests in, and the event loop's delay (5 ms resolution: p50 ~5 is idle).
 *
 *   eval "$(scripts/stack env)" && NODE_OPTIONS="-r $PWD/bench/latency-preload.js" LATENCY_LOG=/tmp/latency.log BENCH_ROUNDTRIPS=0 npm run bench:access
 *
 * Only the service's processes (dist/apps/main.js) are instrumented; plain JavaScript, no build.
 */
if ((process.argv[1]||'').endsWith('dist/apps/main.js')) {
  const pg = require(require('path').join(__dirname, '..', 'node_modules', 'pg'));
  const fs = require('fs');
  const http = require('http');
  const { monitorEventLoopDelay } = require('perf_hooks');
  const h = monitorEventLoopDelay({ resolution: 5 }); h.enable();
  const lat = new Map();
  const add = (k, ms) => { let a = lat.get(k); if (!a) lat.set(k, a = []); a.push(ms); };
  const kindOf = (t) => /es_append/.test(t) ? 'append' : /json_build_array/.test(t) ? 'stream-read' : /BEGIN/.test(t) ? 'begin' : /COMMIT/.test(t) ? 'commit' : /projection_checkpoints/.test(t) ? 'checkpoint' : t.replace(/\s+/g,' ').slice(0, 40);
  // Statements through a pool (the apps' queries) and on a client (transactions, LISTEN): timed when they return a promise.
  const timeQueries = (proto, label) => {
    const orig = proto.query;
    proto.query = function (q, ...rest) {
      const text = typeof q === 'string' ? q : (q && q.text) || '?';
      const t0 = performance.now();
      const r = orig.call(this, q, ...rest);
      if (r && typeof r.then === 'function') r.then(() => add(label + ' ' + kindOf(text), performance.now() - t0), () => {});
      return r;
    };
  };
  timeQueries(pg.Client.prototype, 'pg');
  timeQueries(pg.Pool.prototype, 'pool');
  const oreq = http.request;
  http.request = function (...args) {
    const t0 = performance.now();
    const req = oreq.apply(this, args);
    const opts = args[0];
    const port = (opts && opts.port) || (typeof opts === 'string' ? new URL(opts).port : '') || (opts && opts.host);
    req.on('response', (res) => res.on('end', () => add('http out ' + port, performance.now() - t0)));
    return req;
  };
  const osrv = http.Server.prototype.emit;
  http.Server.prototype.emit = function (ev, req, res) {
    if (ev === 'request') { const t0 = performance.now(); res.on('finish', () => add('http in', performance.now() - t0)); }
    return osrv.apply(this, arguments);
  };
  const q = (a, p) => a[Math.min(a.length - 1, Math.floor(p * a.length))];
  setInterval(() => {
    const parts = [new Date().toISOString().slice(11, 19), `el p50 ${(h.percentile(50)/1e6).toFixed(1)} p99 ${(h.percentile(99)/1e6).toFixed(1)} max ${(h.max/1e6).toFixed(1)}`];
    for (const [k, a] of lat) { if (a.length < 20) continue; a.sort((x, y) => x - y); parts.push(`${k} n${a.length} p50 ${q(a,.5).toFixed(1)} p99 ${q(a,.99).toFixed(1)} max ${a[a.length-1].toFixed(1)}`); }
    fs.appendFileSync(process.env.LATENCY_LOG || '/tmp/latency.log', parts.join(' | ') + '\n');
    lat.clear(); h.reset();
  }, 5000).unref();
}
