package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// errNotLoopback is a dial the load test refuses: it talks to 127.0.0.1 only.
var errNotLoopback = errors.New("load test dials loopback addresses only")

// loopbackClient returns an HTTP client that gives up on a request after
// timeout, keeps up to conns idle connections (one per closed-loop client,
// so connections are reused as a real client's would be), uses no proxy and
// refuses to dial any address that is not a loopback IP.
func loopbackClient(timeout time.Duration, conns int) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if !loopback(addr) {
				return nil, fmt.Errorf("dial %s: %w", addr, errNotLoopback)
			}
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// outcome is what became of one request.
type outcome struct {
	status     int           // 0: no response
	retryAfter time.Duration // from a 503's Retry-After; 0 when absent
	took       time.Duration // to the end of the body, or to the failure
	timeout    bool          // the client gave up (its timeout passed)
	err        error         // no response: timeout, refused, reset, closed early
	body       []byte        // kept only when asked for
}

// refused reports a deliberate refusal: 503 with Retry-After.
func (o outcome) refused() bool {
	return o.status == http.StatusServiceUnavailable && o.retryAfter > 0
}

// maxBody bounds what is read of a response; the rest is discarded.
const maxBody = 8 << 20

// send makes req with client and reads the whole response body (keeping
// it when keep is set), timing the request to the body's end.
func send(client *http.Client, req *http.Request, keep bool) outcome {
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return failed(start, err)
	}
	defer resp.Body.Close()
	var o outcome
	if keep {
		o.body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
	} else {
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	}
	if err != nil {
		// Headers arrived but the body did not: the client did not get
		// the answer it asked for.
		return failed(start, err)
	}
	o.status, o.took = resp.StatusCode, time.Since(start)
	if resp.StatusCode == http.StatusServiceUnavailable {
		o.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return o
}

func failed(start time.Time, err error) outcome {
	var ne net.Error
	return outcome{took: time.Since(start), err: err, timeout: errors.As(err, &ne) && ne.Timeout()}
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date; 0 when it
// is absent or unreadable, and at least a second when it says 0 or a past
// date, so a refusal always makes the client pause.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return max(time.Duration(n)*time.Second, time.Second)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), time.Second)
	}
	return 0
}
