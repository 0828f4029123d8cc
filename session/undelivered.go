package session

// Undelivered counts s's outbound messages not known to have reached the
// client, among those that count accepts: queued ones (never sent) and
// inflight QoS 1/2 ones whose PUBACK or PUBREC has not come (an entry
// awaiting PUBCOMP was received, so it is not counted). The gateway calls it
// when a drain ends, to report what it acknowledged and could not deliver.
// Loop-only, like every State method; count must not change s.
func (s *State) Undelivered(count func(*Message) bool) (queued, inflight int) {
	f := s.fl
	if f == nil {
		return 0, 0
	}
	for i := f.queue.head; i < len(f.queue.items); i++ {
		if count(f.queue.items[i].Msg) {
			queued++
		}
	}
	for i := range f.inflight {
		e := &f.inflight[i]
		if e.state != waitComp && e.d.Msg != nil && count(e.d.Msg) {
			inflight++
		}
	}
	return queued, inflight
}
