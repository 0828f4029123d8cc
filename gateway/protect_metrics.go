package gateway

import (
	"time"

	"github.com/VictoriaMetrics/metrics"

	"edgegw/gateway/auth"
	"edgegw/gateway/limit"
	"edgegw/gateway/listener"
)

// aclDenial labels edgegw_acl_denied_total.
type aclDenial uint8

const (
	aclPublish   aclDenial = iota // PUBLISH dropped (v5 PUBACK/PUBREC 0x87; v3 acknowledged)
	aclSubscribe                  // filter refused in SUBACK (0x87; v3 0x80)
	aclWill                       // CONNECT refused for its will topic (0x87; v3 0x05)
	aclClaims                     // CONNECT refused: the verifier's ACL rules did not parse (0x87; v3 0x05)
	numACLDenials
)

var aclDenialLabels = [numACLDenials]string{"publish", "subscribe", "will", "invalid_rules"}

// protectMetrics are the protection counters. Each is bumped once per
// refusal (never per accepted packet), so they are plain atomic counters.
// Safe for concurrent use.
type protectMetrics struct {
	refused      [limit.PublishBytes + 1]*metrics.Counter // by limit.Reason (index 0 unused)
	authBusy     *metrics.Counter                         // Submit found the pool's queue full (0x89)
	anonymous    *metrics.Counter                         // anonymous CONNECTs admitted on the loop (no pool)
	certificate  *metrics.Counter                         // CONNECTs admitted by their client certificate's identity (tls_username_from)
	acl          [numACLDenials]*metrics.Counter
	proxy        map[*listener.ProxyError]*metrics.Counter
	proxyUntrust *metrics.Counter
	proxyTooLong *metrics.Counter
	reloadOK     *metrics.Counter
	reloadFailed *metrics.Counter
}

// newProtectMetrics registers the protection families in s. The auth
// results and the bans are read from their owners at scrape time. p is nil
// when no protection is configured: the families are written at 0.
func newProtectMetrics(s *metrics.Set, p *protect) *protectMetrics {
	m := &protectMetrics{proxy: map[*listener.ProxyError]*metrics.Counter{}}
	for _, r := range limit.Reasons {
		m.refused[r] = s.NewCounter(`edgegw_protect_refused_total{reason="` + r.String() + `"}`)
	}
	for i := range m.acl {
		m.acl[i] = s.NewCounter(`edgegw_acl_denied_total{action="` + aclDenialLabels[i] + `"}`)
	}
	for _, e := range listener.ProxyErrors {
		m.proxy[e] = s.NewCounter(`edgegw_proxy_closed_total{reason="` + e.Reason() + `"}`)
	}
	m.proxyUntrust = s.NewCounter(`edgegw_proxy_closed_total{reason="proxy_untrusted"}`)
	m.proxyTooLong = s.NewCounter(`edgegw_proxy_closed_total{reason="proxy_incomplete"}`)
	m.reloadOK = s.NewCounter(`edgegw_protect_reloads_total{result="ok"}`)
	m.reloadFailed = s.NewCounter(`edgegw_protect_reloads_total{result="failed"}`)
	m.anonymous = s.NewCounter(`edgegw_auth_results_total{cause="anonymous_loop"}`)
	m.certificate = s.NewCounter(`edgegw_auth_results_total{cause="certificate_loop"}`)
	m.authBusy = s.NewCounter(`edgegw_auth_results_total{cause="queue_full_loop"}`)
	if p != nil && p.authn != nil {
		for c := auth.CauseNone + 1; int(c) < auth.NumCauses; c++ {
			c := c
			s.NewGauge(`edgegw_auth_results_total{cause="`+c.String()+`"}`, func() float64 {
				st := p.authn.Stats()
				return float64(st.Count(c))
			})
		}
	}
	s.NewGauge("edgegw_bans", func() float64 {
		if p == nil || p.lim == nil {
			return 0
		}
		return float64(len(p.lim.Bans(nil, time.Now().UnixNano())))
	})
	return m
}

// protectMetricHelp documents the families this file registers; init adds
// them to metricHelp.
var protectMetricHelp = map[string]metricMeta{
	"edgegw_protect_refused_total": {"counter", "CONNECTs refused and connections closed by storm shaping ([limits]), by reason (connect_rate, connect_rate_per_ip: v5 0x9F, v3 close; user_quota: 0x97, v3 0x03; auth_rate: 0x9F, v3 close; banned, flapping: 0x8A, v3 0x05; publish_rate, publish_bytes: v5 DISCONNECT 0x96, v3 close)."},
	"edgegw_acl_denied_total":      {"counter", "ACL refusals, by action (publish: message dropped, v5 PUBACK/PUBREC 0x87; subscribe: SUBACK 0x87, v3 0x80; will: CONNECT refused 0x87, v3 0x05; invalid_rules: a verifier's rules did not parse, CONNECT refused 0x87)."},
	"edgegw_auth_results_total":    {"counter", "Authentication verdicts, by cause (anonymous_loop: admitted on the loop without the pool; certificate_loop: admitted on the loop by the client certificate's identity, listeners.tls_username_from; queue_full_loop: pool queue full, 0x89; the rest as gateway/auth names them: password, jwt, http, http_cached, bad_password, unknown_user, disabled, jwt_expired, jwt_signature, http_timeout, ...)."},
	"edgegw_proxy_closed_total":    {"counter", "Connections closed before MQTT because of their PROXY protocol header, by reason (proxy_untrusted: the peer is not in listeners.proxy_trusted; proxy_incomplete: no whole header within the longest one; the others name the malformation: proxy_signature, proxy_v1_address, proxy_v2_length, ...)."},
	"edgegw_protect_reloads_total": {"counter", "SIGHUP reloads of the password file, JWT keys, ACL file and [limits], by result (ok, failed: what failed kept its previous version)."},
	"edgegw_bans":                  {"gauge", "Client IDs and IPs banned for flapping now."},
}

func init() {
	for k, v := range protectMetricHelp {
		metricHelp[k] = v
	}
}
