package limit

import "testing"

// TestPublish: messages and bytes per connection; a refusal takes nothing
// from the other bucket.
func TestPublish(t *testing.T) {
	c := Config{PublishRatePerClient: 2, PublishBytesPerClient: 1000}
	r := c.PublishRates()
	var p Publish
	if got := p.Allow(0, 600, r); got != OK {
		t.Fatal(got)
	}
	if got := p.Allow(0, 600, r); got != PublishBytes {
		t.Fatalf("second 600 bytes: %v", got)
	}
	if got := p.Allow(0, 400, r); got != OK { // the refused one took no message token
		t.Fatalf("400 bytes: %v", got)
	}
	if got := p.Allow(0, 0, r); got != PublishRate {
		t.Fatalf("third message: %v", got)
	}
	if got := p.Allow(500*ms, 10, r); got != OK {
		t.Fatalf("after 500ms: %v", got)
	}
	var zero Config
	if !zero.PublishRates().Off() || r.Off() {
		t.Fatal("Off")
	}
	var q Publish
	for i := 0; i < 100; i++ {
		if q.Allow(0, 1<<20, zero.PublishRates()) != OK {
			t.Fatal("off limits refused")
		}
	}
}
