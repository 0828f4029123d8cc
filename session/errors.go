package session

import "edgegw/mqttcodec"

// Protocol errors found by the session. Each carries the v5 reason code the
// gateway sends in DISCONNECT (v5) before closing; v3 clients are closed.
var (
	ErrSecondConnect     = &mqttcodec.Error{Code: mqttcodec.ProtocolError, Msg: "session: second CONNECT [MQTT-3.1.0-2]"}
	ErrReceiveMaximum    = &mqttcodec.Error{Code: mqttcodec.ReceiveMaximumExceeded, Msg: "session: more unacknowledged QoS 1/2 PUBLISH than Receive Maximum [MQTT-3.3.4-7]"}
	ErrTopicAlias        = &mqttcodec.Error{Code: mqttcodec.TopicAliasInvalid, Msg: "session: topic alias 0, above the maximum or unknown [MQTT-3.2.2-17] [MQTT-3.3.2-12] (section 3.3.4)"}
	ErrPayloadFormat     = &mqttcodec.Error{Code: mqttcodec.PayloadFormatInvalid, Msg: "session: payload format indicator 1 with a payload that is not UTF-8 (section 3.3.2.3.2)"}
	ErrQoSNotSupported   = &mqttcodec.Error{Code: mqttcodec.QoSNotSupported, Msg: "session: QoS above the maximum QoS"}
	ErrRetainUnsupported = &mqttcodec.Error{Code: mqttcodec.RetainNotSupported, Msg: "session: retain not available [MQTT-3.2.2-14]"}
	ErrUnexpectedPacket  = &mqttcodec.Error{Code: mqttcodec.ProtocolError, Msg: "session: packet type not allowed from a client"}
	ErrSessionExpiryZero = &mqttcodec.Error{Code: mqttcodec.ProtocolError, Msg: "session: DISCONNECT sets session expiry after CONNECT set 0 (section 3.14.2.2.2)"}
	ErrAuthUnsupported   = &mqttcodec.Error{Code: mqttcodec.BadAuthMethod, Msg: "session: enhanced authentication not supported"}
	ErrPacketIDInUse     = &mqttcodec.Error{Code: mqttcodec.PacketIDInUse, Msg: "session: packet identifier in use"}
	ErrClientIDInvalid   = &mqttcodec.Error{Code: mqttcodec.ClientIDNotValid, Msg: "session: client identifier not valid [MQTT-3.1.3-8]"}
	ErrSubIDFromClient   = &mqttcodec.Error{Code: mqttcodec.ProtocolError, Msg: "session: PUBLISH from a client carries a Subscription Identifier [MQTT-3.3.4-6]"}
)
