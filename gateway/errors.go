package gateway

import (
	"errors"

	"edgegw/mqttcodec"
)

// Errors the gateway decides itself. Protocol errors carry their MQTT
// reason code (mqttcodec.ReasonOf), like the codec's and the session's
// sentinels, which the gateway uses as they are (mqttcodec.ErrNoLocalShared,
// session.ErrSecondConnect, ...) rather than copying them; context is added
// once, where the connection closes (logClose).
var (
	// errNotConnect: the first packet of a connection is not CONNECT; decided
	// on its first byte.
	errNotConnect = &mqttcodec.Error{Code: mqttcodec.ProtocolError, Msg: "gateway: first packet is not CONNECT [MQTT-3.1.0-1]"}
	// errAckTooLarge: the SUBACK or UNSUBACK for a request could never be
	// sent within the client's Maximum Packet Size.
	errAckTooLarge = &mqttcodec.Error{Code: mqttcodec.PacketTooLarge, Msg: "gateway: the SUBACK or UNSUBACK would exceed the client's Maximum Packet Size [MQTT-3.1.2-24]"}
	// errNotUpgrade: the WebSocket listener got bytes that are not an HTTP
	// request.
	errNotUpgrade = errors.New("gateway: WebSocket listener got something other than an HTTP request")

	errAlreadyStarted     = errors.New("gateway: already started")
	errShutdownInProgress = errors.New("gateway: shutdown already in progress")
	errNoListener         = errors.New("gateway: no supported listener configured (listeners.tcp)")
	// errDraining is /healthz's answer (503) once Shutdown began.
	errDraining = errors.New("draining")
)
