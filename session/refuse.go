package session

import "edgegw/mqttcodec"

// RefusePublish answers an inbound QoS 1 or 2 message that the gateway
// will not route (an ACL refused it) with PUBACK or PUBREC carrying rc, a
// v5 reason code >= 0x80, and ends its flow: the Receive Maximum quota is
// given back and a QoS 2 packet identifier is forgotten, since a PUBREC
// with a reason code of 0x80 or greater completes the exchange
// [MQTT-4.3.3-4] (a later PUBREL gets PUBCOMP 0x92). v3.1.1 has no
// failure code in PUBACK or PUBREC: there the message is acknowledged as
// usual and dropped (AckPublish). QoS 0 needs no answer. Loop-only, like
// every State method.
func (s *State) RefusePublish(qos byte, id uint16, rc mqttcodec.ReasonCode, o *Out) {
	if s.version() != mqttcodec.V5 {
		s.AckPublish(qos, id, o)
		return
	}
	switch qos {
	case 1:
		if s.inQuota > 0 {
			s.inQuota--
		}
		s.appendAck(o, mqttcodec.PUBACK, id, rc)
	case 2:
		if _, ok := s.qos2()[id]; ok {
			delete(s.fl.inQoS2, id)
			if s.inQuota > 0 {
				s.inQuota--
			}
			s.appendAck(o, mqttcodec.PUBREC, id, rc)
		}
	}
}
