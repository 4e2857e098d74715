package wasmhost

import "time"

// RecycleReason says why an instance was started or retired.
type RecycleReason uint8

// Reasons reported to [Observer.InstanceStarted] and
// [Observer.InstanceRecycled].
const (
	// ReasonStart: the instance a new pool starts with.
	ReasonStart RecycleReason = iota + 1
	// ReasonCalls: the instance reached Limits.RecycleAfterCalls.
	ReasonCalls
	// ReasonMemory: the instance's memory grew above Limits.RecycleAboveBytes.
	ReasonMemory
	// ReasonError: a call failed (trap, timeout, out of memory, bad result);
	// the instance's state is unknown, so it is never reused.
	ReasonError
	// ReasonClose: the pool was closed.
	ReasonClose
	// ReasonDemand: a borrower found no idle instance in a pool that had
	// fewer than its size.
	ReasonDemand
	// ReasonIdle: the instance was not borrowed for Limits.IdleTimeout.
	ReasonIdle
)

// String returns a metric label value: "start", "calls", "memory", "error",
// "close", "demand" or "idle".
func (r RecycleReason) String() string {
	switch r {
	case ReasonStart:
		return "start"
	case ReasonCalls:
		return "calls"
	case ReasonMemory:
		return "memory"
	case ReasonError:
		return "error"
	case ReasonClose:
		return "close"
	case ReasonDemand:
		return "demand"
	case ReasonIdle:
		return "idle"
	}
	return "unknown"
}

// Observer receives plugin call outcomes and instance lifecycle events, for
// metrics. wasmhost imports no metrics library; the gateway adapts this
// interface to Prometheus.
//
// Implementations must be safe for concurrent use and fast: copy what you
// need and return. They must not call back into the Pool or Chain.
type Observer interface {
	// PluginCall reports one tributary_handle call of msgs messages that took
	// d. err is nil, or a *PluginError for a failed call (never Rejected:
	// per-message rejections are results, not call failures).
	PluginCall(p *Plugin, stage int, msgs int, d time.Duration, err error)
	// InstanceStarted reports a new instance; reason is ReasonStart when a
	// pool is filled, else the reason its predecessor was retired.
	InstanceStarted(p *Plugin, reason RecycleReason)
	// InstanceRecycled reports an instance that was closed and why.
	InstanceRecycled(p *Plugin, reason RecycleReason)
}

// nopObserver is used when HostConfig.Observer is nil.
type nopObserver struct{}

func (nopObserver) PluginCall(*Plugin, int, int, time.Duration, error) {}
func (nopObserver) InstanceStarted(*Plugin, RecycleReason)             {}
func (nopObserver) InstanceRecycled(*Plugin, RecycleReason)            {}
