// test.js drives MQTT.js (the browser bundle's global `mqtt`) against the
// gateway for gateway/browser_test.go, once per protocol version, and POSTs
// what happened to /result. The Go test decides pass or fail; this page only
// reports. Query parameters: ws (the gateway's ws:// URL), prefix (topic
// prefix of this test run), big (size of the large payload, bytes).
'use strict';

const params = new URLSearchParams(location.search);
const wsURL = params.get('ws');
const prefix = params.get('prefix');
const bigSize = Number(params.get('big'));

// bigPayload is the same deterministic text the Go test builds.
function bigPayload(n) {
  let s = '';
  for (let i = 0; s.length < n; i++) s += String(i % 10);
  return s.slice(0, n);
}

let posted = false;
function post(result) {
  if (posted) return;
  posted = true;
  document.getElementById('status').textContent = 'done';
  return fetch('/result', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(result) });
}

window.addEventListener('error', (e) => post({ fatal: 'page error: ' + e.message }));
window.addEventListener('unhandledrejection', (e) => post({ fatal: 'unhandled rejection: ' + e.reason }));

// run connects one MQTT.js client with protocolVersion version and resolves
// with its report once every expected message arrived (or after 10 s).
function run(version) {
  return new Promise((resolve) => {
    const base = `${prefix}/v${version}`;
    const dec = new TextDecoder('utf-8', { fatal: true });
    const res = { version, connack: null, granted: null, acks: [], received: [], aliasSent: [], errors: [], end: '' };
    const self = [
      { topic: `${base}/self/q0`, payload: `self-q0-v${version}`, qos: 0 },
      { topic: `${base}/self/q1`, payload: bigPayload(bigSize), qos: 1 },
      { topic: `${base}/self/q2`, payload: `self-q2-v${version} \u00fc\u20ac\u2713`, qos: 2 },
    ];
    if (version === 5) {
      self.push({
        topic: `${base}/self/props`, payload: 'self-props', qos: 1,
        opts: { properties: { contentType: 'text/plain', userProperties: { k: 'v' }, messageExpiryInterval: 60 } },
      });
      // autoAssignTopicAlias: the second PUBLISH carries only the alias
      // (empty topic, MQTT 5.0 section 3.3.2.3.4).
      self.push({ topic: `${base}/self/alias`, payload: 'alias-1', qos: 1 });
      self.push({ topic: `${base}/self/alias`, payload: 'alias-2', qos: 1 });
    }
    const want = self.length + 3 + 1 + 1; // self + from Go + retained + will
    let done = false;
    let client;
    const finish = (why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      res.end = why;
      client.end(false, {}, () => resolve(res));
    };
    const timer = setTimeout(() => { res.errors.push('timeout'); finish('timeout'); }, 10000);
    client = mqtt.connect(wsURL, {
      protocolVersion: version,
      clientId: `browser-v${version}-${prefix.replace(/\//g, '-')}`,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      keepalive: 30,
      autoAssignTopicAlias: version === 5,
    });
    client.on('error', (e) => res.errors.push('error event: ' + e.message));
    client.on('packetsend', (p) => {
      if (p.cmd === 'publish' && p.properties && p.properties.topicAlias) res.aliasSent.push({ topic: p.topic, alias: p.properties.topicAlias });
    });
    client.on('close', () => { if (!done) { res.errors.push('closed before the end'); finish('closed'); } });
    client.on('message', (topic, payload, packet) => {
      let text;
      try { text = dec.decode(payload); } catch (e) { text = '<invalid UTF-8>'; }
      const p = packet.properties || {};
      res.received.push({
        topic, payload: text, qos: packet.qos, retain: packet.retain, dup: packet.dup,
        contentType: p.contentType || '', userProperties: p.userProperties || null,
        expiry: p.messageExpiryInterval === undefined ? null : p.messageExpiryInterval,
        subId: p.subscriptionIdentifier === undefined ? null : p.subscriptionIdentifier,
      });
      if (res.received.length >= want) finish('complete');
    });
    client.on('connect', async (connack) => {
      res.connack = { sessionPresent: connack.sessionPresent, code: version === 5 ? connack.reasonCode : connack.returnCode };
      try {
        const granted = [];
        const sub = async (topics, opts) => {
          for (const g of await client.subscribeAsync(topics, opts)) granted.push(g.qos);
        };
        await sub({ [`${base}/self/#`]: { qos: 2 }, [`${base}/retained`]: { qos: 1 }, [`${base}/will`]: { qos: 1 } });
        // v5: a subscription identifier that must come back on every match.
        await sub({ [`${base}/fromgo/#`]: { qos: 2 } }, version === 5 ? { properties: { subscriptionIdentifier: 7 } } : {});
        await sub({ [`${base}/unsub`]: { qos: 1 } });
        if (version === 5) await sub({ [`${base}/nl`]: { qos: 1, nl: true } });
        res.granted = granted;
        // Messages that must not come back: published first, so that a
        // wrong delivery arrives before the run completes.
        await client.unsubscribeAsync(`${base}/unsub`);
        await client.publishAsync(`${base}/unsub`, 'after-unsubscribe', { qos: 1 });
        if (version === 5) await client.publishAsync(`${base}/nl`, 'no-local', { qos: 1 });
        for (const m of self) {
          const ack = await client.publishAsync(m.topic, m.payload, Object.assign({ qos: m.qos }, m.opts || {}));
          res.acks.push({ topic: m.topic, cmd: ack ? ack.cmd : '', reasonCode: ack && ack.reasonCode !== undefined ? ack.reasonCode : null });
        }
        for (let q = 0; q <= 2; q++) {
          await client.publishAsync(`${base}/togo/q${q}`, `browser-q${q}-v${version}`, { qos: q });
        }
        // Tell the Go client to publish to us (it subscribed to prefix/+/hello).
        await client.publishAsync(`${base}/hello`, `v${version}`, { qos: 1 });
        // A client with a will that goes away without DISCONNECT
        // (end(true) drops the WebSocket): its will reaches us [MQTT-3.1.2-8].
        const { c } = await connectAsync({
          protocolVersion: version, clientId: `will-v${version}-${prefix.replace(/\//g, '-')}`, clean: true,
          will: { topic: `${base}/will`, payload: `will-v${version}`, qos: 1, retain: false },
        });
        c.end(true);
      } catch (e) {
        res.errors.push('exchange: ' + (e && e.message ? e.message : e));
        finish('error');
      }
    });
  });
}

// connectAsync connects one more MQTT.js client and resolves with it and its
// CONNACK, or rejects on error or after 5 s. onMessage, when given, is the
// client's message handler.
function connectAsync(opts, onMessage) {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(wsURL, Object.assign({ reconnectPeriod: 0, connectTimeout: 5000 }, opts));
    if (onMessage) c.on('message', onMessage); // before the CONNACK: stored messages may come with it
    const timer = setTimeout(() => { c.end(true); reject(new Error('connect timeout')); }, 5000);
    c.once('connect', (ack) => { clearTimeout(timer); resolve({ c, ack }); });
    c.once('error', (e) => { clearTimeout(timer); c.end(true); reject(e); });
  });
}

// persist: a session with clean false (v5: session expiry 60 s) keeps its
// subscription while offline, and a QoS 1 message published meanwhile
// arrives on the next connection, with session present.
async function persist(version) {
  const base = `${prefix}/v${version}`;
  const res = { version, sessionPresent: null, received: [], errors: [] };
  const id = `persist-v${version}-${prefix.replace(/\//g, '-')}`;
  const opts = { protocolVersion: version, clientId: id, clean: false, keepalive: 30 };
  if (version === 5) opts.properties = { sessionExpiryInterval: 60 };
  try {
    const a = await connectAsync(opts);
    await a.c.subscribeAsync(`${base}/offline`, { qos: 1 });
    await a.c.endAsync();
    const p = await connectAsync({ protocolVersion: version, clientId: id + '-pub', clean: true });
    await p.c.publishAsync(`${base}/offline`, `queued-v${version}`, { qos: 1 });
    await p.c.endAsync();
    let got;
    const arrived = new Promise((resolve) => { got = resolve; });
    const b = await connectAsync(Object.assign({}, opts, { resubscribe: false }), (topic, payload, packet) => {
      res.received.push({ topic, payload: new TextDecoder().decode(payload), qos: packet.qos, retain: packet.retain });
      got();
    });
    res.sessionPresent = b.ack.sessionPresent;
    let timer;
    await Promise.race([arrived, new Promise((resolve) => { timer = setTimeout(() => { res.errors.push('no queued message'); resolve(); }, 5000); })]);
    clearTimeout(timer);
    await b.c.endAsync();
  } catch (e) {
    res.errors.push('persist: ' + (e && e.message ? e.message : e));
  }
  return res;
}

// keepalive: an MQTT.js client with keepalive 2 s stays connected for 4.5 s
// (the gateway closes after 1.5 x keepalive without a packet, so its
// PINGREQs must be answered and count as activity). 2 s, not 1 s: MQTT.js
// pings a full keepalive after its last packet, and a loaded CI machine can
// delay a browser timer past a 0.5 s margin.
async function keepalive(version) {
  const res = { version, pingresp: 0, closedAfterMs: null, disconnect: null, errors: [] };
  try {
    const t0 = performance.now();
    const { c } = await connectAsync({ protocolVersion: version, clientId: `ka-v${version}-${prefix.replace(/\//g, '-')}`, clean: true, keepalive: 2 });
    c.on('packetreceive', (p) => {
      if (p.cmd === 'pingresp') res.pingresp++;
      if (p.cmd === 'disconnect') res.disconnect = p.reasonCode;
    });
    c.on('close', () => { if (res.closedAfterMs === null) res.closedAfterMs = Math.round(performance.now() - t0); });
    await new Promise((r) => setTimeout(r, 4500));
    const closed = res.closedAfterMs;
    await c.endAsync();
    res.closedAfterMs = closed;
  } catch (e) {
    res.errors.push('keepalive: ' + (e && e.message ? e.message : e));
  }
  return res;
}

// Hand-built MQTT packets for the raw WebSocket checks.
function connectPacket(version, id) {
  const body = [0, 4, 0x4d, 0x51, 0x54, 0x54, version, 0x02, 0, 0];
  if (version === 5) body.push(0); // no properties
  body.push(id.length >> 8, id.length & 0xff);
  for (const ch of id) body.push(ch.charCodeAt(0));
  return new Uint8Array([0x10, body.length, ...body]);
}
const hex = (u8) => Array.from(u8, (b) => b.toString(16).padStart(2, '0')).join('');

// rawClose opens the browser's own WebSocket (subprotocol mqtt), sends
// CONNECT, then runs act once the CONNACK came, and resolves with the MQTT
// bytes received after the CONNACK and the close event (code, wasClean).
function rawClose(name, version, act) {
  return new Promise((resolve) => {
    const res = { name, version, after: [], code: 0, reason: '', wasClean: false, errors: [] };
    const id = `raw-${name}-${prefix.replace(/\//g, '-')}`;
    const ws = new WebSocket(wsURL, ['mqtt']);
    ws.binaryType = 'arraybuffer';
    let connacked = false;
    const timer = setTimeout(() => { res.errors.push('no close within 5 s'); ws.close(); resolve(res); }, 5000);
    ws.onopen = () => { res.protocol = ws.protocol; res.extensions = ws.extensions; ws.send(connectPacket(version, id)); };
    ws.onmessage = (e) => {
      const u8 = new Uint8Array(e.data);
      if (!connacked) {
        connacked = true;
        if (u8[0] !== 0x20 || u8[3] !== 0) res.errors.push('CONNACK ' + hex(u8));
        if (u8.length > u8[1] + 2) res.after.push(hex(u8.subarray(u8[1] + 2)));
        Promise.resolve(act(ws, id)).catch((err) => res.errors.push('act: ' + err));
        return;
      }
      res.after.push(hex(u8));
    };
    ws.onerror = () => res.errors.push('error event');
    ws.onclose = (e) => {
      clearTimeout(timer);
      res.code = e.code;
      res.reason = e.reason;
      res.wasClean = e.wasClean;
      resolve(res);
    };
  });
}

const malformed = {
  4: new Uint8Array([0x36, 5, 0, 1, 0x61, 0, 1]), // PUBLISH QoS 3 [MQTT-3.3.1-4]
  5: new Uint8Array([0x36, 6, 0, 1, 0x61, 0, 1, 0]),
};

(async () => {
  const all = await Promise.all([
    run(4), run(5), persist(4), persist(5), keepalive(4), keepalive(5),
    rawClose('malformed-v4', 4, (ws) => ws.send(malformed[4])),
    rawClose('malformed-v5', 5, (ws) => ws.send(malformed[5])),
    // Session takeover by MQTT.js with the same client ID: the raw
    // connection gets DISCONNECT 0x8E, then the close frame.
    rawClose('takeover-v5', 5, async (ws, id) => {
      const { c } = await connectAsync({ protocolVersion: 5, clientId: id, clean: true });
      setTimeout(() => c.end(true), 1000);
    }),
  ]);
  await post({
    userAgent: navigator.userAgent,
    runs: all.slice(0, 2),
    persist: all.slice(2, 4),
    keepalive: all.slice(4, 6),
    raw: all.slice(6),
  });
})();
