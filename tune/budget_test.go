package tune

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestNewBudget(t *testing.T) {
	const ram = 24 << 30
	cg32 := Cgroup{MemoryLimit: 32 << 20}
	tests := []struct {
		name     string
		cg       Cgroup
		cfg      Config
		baseline int64
		want     Budget
	}{
		{"cgroup limit", cg32, Config{}, 4 << 20, Budget{Limit: 32 << 20, Source: SourceCgroup,
			HighWatermark: 32 << 20 / 100 * 90, Baseline: 4 << 20, ConnectionCost: DefaultConnectionCost,
			Capacity: (32<<20/100*90 - 4<<20) / DefaultConnectionCost}},
		{"lower configured limit wins", cg32, Config{MemoryLimit: 16 << 20, ConnectionCost: 1000, MemoryHighWatermark: 50}, 0,
			Budget{Limit: 16 << 20, Source: SourceConfig, HighWatermark: 16 << 20 / 100 * 50, ConnectionCost: 1000, Capacity: (16 << 20 / 100 * 50) / 1000}},
		{"higher configured limit loses", cg32, Config{MemoryLimit: 64 << 20, ConnectionCost: 1000}, 0,
			Budget{Limit: 32 << 20, Source: SourceCgroup, HighWatermark: 32 << 20 / 100 * 90, ConnectionCost: 1000, Capacity: (32 << 20 / 100 * 90) / 1000}},
		{"configured, no cgroup", Cgroup{}, Config{MemoryLimit: 1 << 30, ConnectionCost: 4096}, 0,
			Budget{Limit: 1 << 30, Source: SourceConfig, HighWatermark: 1 << 30 / 100 * 90, ConnectionCost: 4096, Capacity: (1 << 30 / 100 * 90) / 4096}},
		{"cgroup limit above RAM", Cgroup{MemoryLimit: 64 << 30}, Config{ConnectionCost: 4096}, 0,
			Budget{Limit: ram, Source: SourceRAM, HighWatermark: ram / 100 * 90, ConnectionCost: 4096, Capacity: (ram / 100 * 90) / 4096}},
		{"RAM", Cgroup{}, Config{ConnectionCost: 4096}, 0,
			Budget{Limit: ram, Source: SourceRAM, HighWatermark: ram / 100 * 90, ConnectionCost: 4096, Capacity: (ram / 100 * 90) / 4096}},
		{"baseline above the watermark", cg32, Config{}, 31 << 20, Budget{Limit: 32 << 20, Source: SourceCgroup,
			HighWatermark: 32 << 20 / 100 * 90, Baseline: 31 << 20, ConnectionCost: DefaultConnectionCost, Capacity: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewBudget(tt.cg, ram, tt.cfg, tt.baseline); got != tt.want {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestReadMemTotalAndResident(t *testing.T) {
	if v, err := ReadMemTotal("testdata/proc_host"); err != nil || v != 24684108<<10 {
		t.Errorf("ReadMemTotal = %d, %v", v, err)
	}
	if v, err := ReadResident("testdata/proc_host"); err != nil || v != 12288<<10 {
		t.Errorf("ReadResident = %d, %v", v, err)
	}
	if _, err := ReadMemTotal("testdata/missing"); err == nil {
		t.Error("ReadMemTotal of a tree without /proc/meminfo: no error")
	}
}

// TestAdmission: the connection cap, the high watermark with its
// hysteresis, and an unreadable probe that keeps the last state.
func TestAdmission(t *testing.T) {
	usage, ok := int64(0), true
	b := Budget{Capacity: 10, HighWatermark: 1000}
	a := NewAdmission(b, func() (MemorySample, bool) { return MemorySample{WorkingSet: usage, Anon: usage / 2}, ok })
	if v := a.Admit(10); v != Admit {
		t.Fatalf("Admit(10) with capacity 10 = %v", v)
	}
	if v := a.Admit(11); v != OverCapacity {
		t.Fatalf("Admit(11) with capacity 10 = %v", v)
	}
	steps := []struct {
		usage    int64
		ok       bool
		pressure bool
		changed  bool
	}{
		{999, true, false, false},
		{1000, true, true, true},   // at the watermark
		{980, true, true, false},   // above 97%: still on
		{2000, false, true, false}, // unreadable: keeps the state
		{969, true, false, true},   // below 97%
	}
	for i, s := range steps {
		usage, ok = s.usage, s.ok
		_, p, ch := a.Sample()
		if p != s.pressure || ch != s.changed {
			t.Errorf("step %d (usage %d): pressure %v changed %v, want %v %v", i, s.usage, p, ch, s.pressure, s.changed)
		}
		want := Admit
		if s.pressure {
			want = MemoryPressure
		}
		if v := a.Admit(1); v != want {
			t.Errorf("step %d: Admit = %v, want %v", i, v, want)
		}
		if s.ok && (a.Usage() != s.usage || a.Unmanaged() != s.usage-s.usage/2) {
			t.Errorf("step %d: Usage %d Unmanaged %d", i, a.Usage(), a.Unmanaged())
		}
	}
	if n := testing.AllocsPerRun(100, func() { a.Admit(5) }); n != 0 {
		t.Errorf("Admit allocates %v times", n)
	}
	a.SetCapacity(0)
	if v := NewAdmission(Budget{}, nil).Admit(1 << 40); v != Admit {
		t.Errorf("no budget: Admit = %v", v)
	}
}

func TestAdmissionRun(t *testing.T) {
	var usage atomicInt
	a := NewAdmission(Budget{Capacity: 1, HighWatermark: 100}, func() (MemorySample, bool) { return MemorySample{WorkingSet: usage.load()}, true })
	stop := make(chan struct{})
	changes := make(chan bool, 4)
	done := make(chan struct{})
	go func() { a.Run(stop, time.Millisecond, func(_ int64, p bool) { changes <- p }); close(done) }()
	usage.store(200)
	if p := <-changes; !p {
		t.Fatal("first change is not pressure")
	}
	usage.store(10)
	if p := <-changes; p {
		t.Fatal("second change is not relief")
	}
	close(stop)
	<-done
}

func TestEvery(t *testing.T) {
	var e Every
	t0 := time.Unix(1000, 0)
	if ok, _ := e.Allow(t0); !ok {
		t.Fatal("first event suppressed")
	}
	for i := 0; i < 5; i++ {
		if ok, _ := e.Allow(t0.Add(time.Duration(i) * 100 * time.Millisecond)); ok {
			t.Fatalf("event %d within the second let through", i)
		}
	}
	if ok, n := e.Allow(t0.Add(time.Second)); !ok || n != 5 {
		t.Fatalf("after a second: ok %v suppressed %d, want true 5", ok, n)
	}
}

func TestFDCap(t *testing.T) {
	for soft, want := range map[uint64]int64{20000: 19900, 1024: 924, 100: 64, 0: 64, 1 << 62: 1 << 40} {
		if got := FDCap(soft); got != want {
			t.Errorf("FDCap(%d) = %d, want %d", soft, got, want)
		}
	}
	f := RaiseNoFile()
	if f.Err == "" && (f.Soft != f.Hard || f.Cap != FDCap(f.Soft)) {
		t.Errorf("RaiseNoFile = %+v: soft not raised to hard", f)
	}
}

type atomicInt struct{ v atomic.Int64 }

func (a *atomicInt) load() int64   { return a.v.Load() }
func (a *atomicInt) store(v int64) { a.v.Store(v) }
