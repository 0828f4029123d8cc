// MQTT.js in Node.js over the gateway's WebSocket listener with
// permessage-deflate (Node's ws library offers it; threshold 0 so that it
// compresses every message it sends). Run by gateway/wsdeflate_node_test.go:
//   node deflate.js ws://127.0.0.1:PORT/mqtt PREFIX COUNT
// It subscribes to PREFIX/t, publishes COUNT JSON messages to it, waits for
// them to come back, and prints one JSON line: the Sec-WebSocket-Extensions
// answer, the extensions ws negotiated, and the payloads it received. The Go
// test decides.
'use strict'
const path = require('path')
const modules = path.join(__dirname, '..', 'browser', 'node_modules')
const mqtt = require(path.join(modules, 'mqtt'))
const WebSocket = require(path.join(modules, 'ws'))

const [url, prefix, count] = [process.argv[2], process.argv[3], Number(process.argv[4])]
const out = { header: null, extensions: null, received: [], error: null }
const done = () => { console.log(JSON.stringify(out)); process.exit(0) }
setTimeout(() => { out.error = 'timeout'; done() }, 15000)

const client = mqtt.connect(url, {
  protocolVersion: 5,
  clientId: prefix + '-node',
  reconnectPeriod: 0,
  createWebsocket: (u, protocols) => {
    const ws = new WebSocket(u, protocols, { perMessageDeflate: { threshold: 0 } })
    ws.on('upgrade', (res) => { out.header = res.headers['sec-websocket-extensions'] || '' })
    ws.on('open', () => { out.extensions = String(ws.extensions) })
    return ws
  }
})
client.on('error', (e) => { out.error = String(e); done() })
client.on('message', (topic, payload) => {
  out.received.push(payload.toString())
  if (out.received.length === count) client.end(false, done)
})
client.on('connect', () => {
  client.subscribe(prefix + '/t', { qos: 1 }, (err) => {
    if (err) { out.error = String(err); done(); return }
    for (let i = 0; i < count; i++) {
      const msg = JSON.stringify({ device: 'pump-station-17/unit-4', seq: i, temperature_c: 21.5, humidity_pct: 40.2, pressure_hpa: 1013.25, status: 'ok', firmware: '4.2.1-rc3', tags: ['north', 'line-2', 'critical'], location: { lat: 52.52, lon: 13.405 } })
      client.publish(prefix + '/t', msg, { qos: 1 })
    }
  })
})
