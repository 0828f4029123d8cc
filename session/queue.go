package session

// queue is a FIFO of deliveries with a byte count. Loop-only.
type queue struct {
	items []Delivery
	head  int
	n     int
	bytes int
}

func (q *queue) push(d Delivery) {
	if q.head > 0 && q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 64 && q.head*2 >= len(q.items) {
		k := copy(q.items, q.items[q.head:])
		clear(q.items[k:])
		q.items, q.head = q.items[:k], 0
	}
	q.items = append(q.items, d)
	q.n++
	q.bytes += d.Msg.Size
}

func (q *queue) front() *Delivery { return &q.items[q.head] }

func (q *queue) popFront() Delivery {
	d := q.items[q.head]
	q.items[q.head] = Delivery{}
	q.head++
	q.n--
	q.bytes -= d.Msg.Size
	if q.n == 0 {
		q.items, q.head = q.items[:0], 0
		if cap(q.items) > 64 {
			q.items = nil // a drained offline backlog: do not keep its array
		}
	}
	return d
}

func (q *queue) popBack() Delivery {
	i := len(q.items) - 1
	d := q.items[i]
	q.items[i] = Delivery{}
	q.items = q.items[:i]
	q.n--
	q.bytes -= d.Msg.Size
	return d
}

// dropExpired removes the messages whose Message Expiry Interval passed at
// now [MQTT-3.3.2-5], so they do not count against the offline bounds, and
// returns how many it removed. Order is kept.
func (q *queue) dropExpired(now int64) (n int) {
	if q.n == 0 {
		return 0
	}
	k := q.head
	for i := q.head; i < len(q.items); i++ {
		d := q.items[i]
		if d.Msg.Expired(now) {
			q.bytes -= d.Msg.Size
			n++
			continue
		}
		q.items[k] = d
		k++
	}
	clear(q.items[k:])
	q.items = q.items[:k]
	q.n -= n
	if q.n == 0 {
		q.items, q.head = q.items[:0], 0
	}
	return n
}

// over reports whether the queue is past the offline bounds.
func (q *queue) over(lim *Limits) bool {
	return q.n > lim.MaxOfflineMessages || lim.MaxOfflineBytes > 0 && q.bytes > lim.MaxOfflineBytes
}

// trim drops messages until the queue fits the offline bounds, oldest or
// newest first per lim.DropOldest, and returns how many it dropped.
func (q *queue) trim(lim *Limits) (dropped int) {
	for q.n > 0 && q.over(lim) {
		if lim.DropOldest {
			q.popFront()
		} else {
			q.popBack()
		}
		dropped++
	}
	return dropped
}
