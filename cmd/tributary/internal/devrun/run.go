package devrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tributary-gw/tributary/cmd/tributary/internal/devstack"
	"github.com/tributary-gw/tributary/cmd/tributary/internal/devview"
	"github.com/tributary-gw/tributary/cmd/tributary/internal/fleet"
	"github.com/tributary-gw/tributary/gateway"
	"github.com/tributary-gw/tributary/gateway/config"
	"github.com/tributary-gw/tributary/sdk/wasmbuild"
)

// Port says where a local server listens: Number on 127.0.0.1, 0 for any free port. With
// Fallback a taken Number is replaced by a free port (with a note) instead of failing.
type Port struct {
	Number   int
	Fallback bool
}

// Options configures a dev session. Load is required; the rest has usable zero values
// except where noted.
type Options struct {
	// MQTT, Kafka and Admin are the ports of the embedded broker, the in-memory Kafka and the
	// gateway's admin endpoint. Admin.Number < 0 disables the admin endpoint.
	MQTT, Kafka, Admin Port
	// AdminToken is the operator's bearer token for the admin API (/api/v1), printed in the
	// banner with curl lines using it. Empty generates a random one for the session. It must
	// be at least 16 bytes without whitespace, as the gateway requires.
	AdminToken string
	// Fleet is the simulated fleet. Zero Sensors or Rate take fleet.DefaultConfig's values.
	Fleet fleet.Config
	// Duration ends the session after this long, as a cancelled context would; 0 runs until
	// the context is done.
	Duration time.Duration
	// ViewInterval is the time between two blocks of the live view. Defaults to 1s.
	ViewInterval time.Duration
	// Quiet turns the live view off; the banner and the summary are still printed.
	Quiet bool
	// SamplesPerSecond bounds the Kafka records the view shows. Defaults to 2; negative shows none.
	SamplesPerSecond float64
	// PluginCache is where example plugins are built. Defaults to the user cache folder's
	// tributary/dev-plugins.
	PluginCache string
	// SourceRoot is the repository checkout holding the first-party plugins (plugins/NAME)
	// the example's chains use. Defaults to the checkout around the working directory, which
	// is also searched for plugins missing under SourceRoot. Without either, the plugins are
	// built from the source carried in the binary (package plugins, with the SDK of
	// sdksource), written to PluginCache/src.
	SourceRoot string
	// Load reads a configuration file's bytes; pass config.LoadBytes.
	Load LoadFunc
	// Logger receives the gateway's, the broker's and the fleet's logs. Defaults to warnings
	// and errors as text on os.Stderr.
	Logger *slog.Logger
	// Stdout receives the banner, the live view and the summary. Defaults to os.Stdout.
	Stdout io.Writer
}

// Summary is what a session did, printed when it ends.
type Summary struct {
	// Published and PublishFailed count the fleet's publishes acknowledged and failed.
	Published, PublishFailed uint64
	// Delivered, DeadLettered and Filtered sum the gateway's route counters.
	Delivered, DeadLettered, Filtered uint64
	// ReadBack counts records the view read back from the route and dead-letter topics.
	ReadBack uint64
}

// session is one run's moving parts; fields are set once during start.
type session struct {
	opts    Options
	out     io.Writer
	log     *slog.Logger
	cfg     *config.Config
	broker  *devstack.Broker
	kafka   *devstack.Kafka
	gw      *gateway.Gateway
	fleet   *fleet.Fleet
	tap     *devview.Tap
	started time.Time
	// pluginDir is this session's copy of the built plugins, the gateway's plugins.dir: admin
	// API uploads land there and vanish with the session instead of replacing the builds
	// in the cache. Empty when there are no plugins.
	pluginDir string
}

// Run runs a dev session until ctx is done (Ctrl-C) or Options.Duration has passed, then stops
// the fleet, drains the gateway, stops the view and closes the broker and Kafka, in that order,
// prints a summary and returns it.
//
// # Errors
//
// Run returns an error for bad options, a plugin that does not build, an example configuration
// that does not load, a port it cannot listen on, and a gateway that fails to start or to
// drain. A session ended by ctx or Duration is not an error.
func Run(ctx context.Context, opts Options) (Summary, error) {
	s, err := start(ctx, opts)
	if err != nil {
		return Summary{}, err
	}
	defer s.close()
	defer s.tap.Close()
	return s.run(ctx)
}

func start(ctx context.Context, opts Options) (*session, error) {
	if opts.Load == nil {
		return nil, errors.New("devrun: Options.Load is required")
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if opts.ViewInterval <= 0 {
		opts.ViewInterval = time.Second
	}
	if opts.SamplesPerSecond == 0 {
		opts.SamplesPerSecond = 2
	}
	if opts.AdminToken == "" {
		opts.AdminToken = newToken()
	} else if err := checkToken(opts.AdminToken); err != nil {
		return nil, err
	}
	def := fleet.DefaultConfig()
	if opts.Fleet.Sensors == 0 {
		opts.Fleet.Sensors = def.Sensors
	}
	if opts.Fleet.Rate == 0 {
		opts.Fleet.Rate = def.Rate
	}
	opts.Fleet.Logger = opts.Logger
	fl, err := fleet.New(opts.Fleet)
	if err != nil {
		return nil, err
	}
	s := &session{opts: opts, out: opts.Stdout, log: opts.Logger, fleet: fl}

	environ, err := s.buildPlugins(ctx)
	if err != nil {
		return nil, err
	}
	if s.cfg, err = exampleConfig(opts.Load, environ); err != nil {
		return nil, err
	}
	if err := s.startStack(); err != nil {
		return nil, err
	}
	gwStart := time.Now()
	if n := len(chainPlugins()); n > 0 && s.cfg.Plugins.CacheDir != "" {
		// Compiling is what makes a first run slow; say so instead of going silent.
		fmt.Fprintf(s.out, "starting the gateway: compiling %d plugins to machine code (kept in %s for later runs) ...\n", n, s.cfg.Plugins.CacheDir)
	}
	if s.gw, err = newGateway(ctx, s.cfg, s.log); err != nil {
		s.close()
		return nil, err
	}
	fmt.Fprintf(s.out, "gateway ready in %s\n\n", time.Since(gwStart).Round(100*time.Millisecond))
	topics := routeTopics(s.cfg)
	if s.tap, err = devview.NewTap([]string{s.kafka.Addr()}, topics, opts.SamplesPerSecond); err != nil {
		s.close()
		return nil, err
	}
	s.banner()
	return s, nil
}

// newGateway is gateway.New, which compiles the plugins (a minute or more on a cold first
// run) and takes no context, given up on when ctx ends first: Ctrl-C then stops dev at
// once. The abandoned compilation goes on in the background until the process exits (its
// compile children die with it); a gateway it still makes is never run.
func newGateway(ctx context.Context, cfg *config.Config, log *slog.Logger) (*gateway.Gateway, error) {
	type made struct {
		gw  *gateway.Gateway
		err error
	}
	done := make(chan made, 1)
	go func() {
		gw, err := gateway.New(cfg, gateway.WithLogger(log))
		done <- made{gw, err}
	}()
	select {
	case m := <-done:
		if m.err != nil {
			return nil, fmt.Errorf("gateway: %w", m.err)
		}
		return m.gw, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("interrupted while the gateway compiled its plugins: %w", ctx.Err())
	}
}

// close releases what startStack started: the broker, Kafka and the session's plugin folder.
func (s *session) close() {
	if s.broker != nil {
		if err := s.broker.Close(); err != nil {
			s.log.Warn("stopping the broker", "error", err)
		}
	}
	if s.kafka != nil {
		s.kafka.Close()
	}
	if s.pluginDir != "" {
		_ = os.RemoveAll(s.pluginDir)
	}
}

// buildPlugins builds the first-party plugins the example routes' chains name into the cache
// (BuildFirstParty) and returns the environment that points plugins.dir there (none when there
// are no plugins).
func (s *session) buildPlugins(ctx context.Context) ([]string, error) {
	names := chainPlugins()
	if len(names) == 0 {
		return nil, nil
	}
	cache, err := BuildFirstParty(ctx, names, s.opts.SourceRoot, s.opts.PluginCache, "dev-plugins", s.out)
	if err != nil {
		return nil, err
	}
	s.opts.PluginCache = cache
	return []string{"TRIBUTARY_PLUGINS__DIR=" + cache}, nil
}

// BuildFirstParty builds the first-party Go plugins names (folders of plugins/) into
// cache/NAME.wasm when missing or older than their source, and returns cache. Each plugin's
// source is plugins/NAME of sourceRoot, else of the tributary checkout around the working
// directory; when neither is a checkout, every one comes from the source carried in the
// binary (package plugins, with the carried SDK), written to cache/src first. An empty cache
// means the user cache folder's tributary/cacheName. Progress lines go to out. `tributary dev`
// and `tributary bench` (its first-party chains) build their plugins with it.
//
// It returns an error naming the plugin when a checkout lacks one of them or the binary
// carries no source for it, and an error saying how to install Go when the build fails
// without a go command on PATH.
func BuildFirstParty(ctx context.Context, names []string, sourceRoot, cache, cacheName string, out io.Writer) (string, error) {
	wdRoot := ""
	if wd, err := os.Getwd(); err == nil {
		wdRoot = findRoot(wd)
	}
	root := sourceRoot
	if root == "" {
		root = wdRoot
	}
	srcs := map[string]string{}
	var carried []string
	for _, name := range names {
		if dir := firstPartySource(name, root, wdRoot); dir != "" {
			srcs[name] = dir
		} else {
			carried = append(carried, name)
		}
	}
	if len(srcs) > 0 && len(carried) > 0 {
		return "", fmt.Errorf("first-party plugin %q: no source in plugins/%s of the tributary checkout %s", carried[0], carried[0], root)
	}
	if cache == "" {
		uc, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("plugin cache: %w (set --plugin-cache)", err)
		}
		cache = filepath.Join(uc, "tributary", cacheName)
	}
	if len(carried) > 0 {
		dirs, err := writeCarried(cache, carried, out)
		if err != nil {
			return "", err
		}
		srcs = dirs
	} else {
		forgetCarried(cache)
	}
	for _, name := range slices.Sorted(maps.Keys(srcs)) {
		if _, err := wasmbuild.Build(ctx, srcs[name], filepath.Join(cache, name+".wasm"), out); err != nil {
			if _, lookErr := exec.LookPath("go"); lookErr != nil {
				return "", fmt.Errorf("%w\nthe first-party plugins are built from Go source: install Go 1.26 or newer (https://go.dev/dl) and put its bin folder on PATH", err)
			}
			return "", err
		}
	}
	return cache, nil
}

// startStack starts Kafka and the broker, reserves the admin port and points the
// configuration at them.
func (s *session) startStack() error {
	var fellBack bool
	var err error
	if s.kafka, fellBack, err = devstack.StartKafka(s.opts.Kafka.Number, s.opts.Kafka.Fallback, routeTopics(s.cfg)...); err != nil {
		return err
	}
	if fellBack {
		fmt.Fprintf(s.out, "note: port %d is taken; Kafka listens on %s instead\n", s.opts.Kafka.Number, s.kafka.Addr())
	}
	if s.broker, fellBack, err = devstack.StartBroker(s.opts.MQTT.Number, s.opts.MQTT.Fallback, s.log); err != nil {
		s.close()
		return err
	}
	if fellBack {
		fmt.Fprintf(s.out, "note: port %d is taken; the MQTT broker listens on %s instead\n", s.opts.MQTT.Number, s.broker.Addr())
	}
	admin := ""
	if s.opts.Admin.Number >= 0 {
		if admin, fellBack, err = devstack.ReserveAddr(s.opts.Admin.Number, s.opts.Admin.Fallback); err != nil {
			s.close()
			return fmt.Errorf("admin: %w", err)
		}
		if fellBack {
			fmt.Fprintf(s.out, "note: port %d is taken; the admin endpoint listens on %s instead\n", s.opts.Admin.Number, admin)
		}
	}

	c := s.cfg
	c.MQTT.URL = s.broker.URL()
	c.MQTT.ClientID = "tributary-dev"
	c.MQTT.CleanStart = true // the broker is new every time; nothing to resume
	c.Kafka.Brokers = []string{s.kafka.Addr()}
	c.Admin.Listen = admin
	c.Admin.Token = config.Secret(s.opts.AdminToken)
	c.Admin.TokenFile = ""
	if s.opts.PluginCache != "" {
		if s.pluginDir, err = sessionPlugins(s.opts.PluginCache); err != nil {
			s.close()
			return err
		}
		c.Plugins.Dir = s.pluginDir
		if c.Plugins.CacheDir == "" {
			// Keep wazero's machine code beside the modules: the next session (and every
			// session after a rebuild of one plugin) skips compiling the others again.
			c.Plugins.CacheDir = filepath.Join(s.opts.PluginCache, "compiled")
		}
	}
	if c.Plugins.Compile.Timeout < compileTimeout {
		// A first run compiles every plugin, on a laptop that may be busy building them.
		c.Plugins.Compile.Timeout = compileTimeout
	}
	if c.Flow.DrainTimeout <= 0 || c.Flow.DrainTimeout > drainTimeout {
		c.Flow.DrainTimeout = drainTimeout // Ctrl-C should feel prompt
	}
	return nil
}

// banner says where everything is and how to join in.
func (s *session) banner() {
	var b strings.Builder
	mqttPort := s.broker.Addr()[strings.LastIndexByte(s.broker.Addr(), ':')+1:]
	fmt.Fprintf(&b, "tributary dev: an MQTT broker, an in-memory Kafka and the gateway, all in this process.\n")
	fmt.Fprintf(&b, "For trying Tributary, not for production; nothing is kept. Ctrl-C stops everything.\n\n")
	fmt.Fprintf(&b, "  MQTT broker  mqtt://%s   (MQTT v5 and 3.1.1, no authentication)\n", s.broker.Addr())
	fmt.Fprintf(&b, "  Kafka        %s   (in-memory, %d partitions per topic)\n", s.kafka.Addr(), devstack.DefaultPartitions)
	if s.cfg.Admin.Listen != "" {
		fmt.Fprintf(&b, "  Admin        http://%s/api/v1/status   (token below; also /metrics, /healthz, /readyz)\n", s.cfg.Admin.Listen)
	}
	fmt.Fprintf(&b, "\nRoutes (examples/building-sensors)\n")
	for _, r := range s.cfg.Routes {
		stages := make([]string, 0, len(r.Chain))
		for _, st := range r.Chain {
			stages = append(stages, st.Plugin)
		}
		chain := ""
		if len(stages) > 0 {
			chain = " -> " + strings.Join(stages, " -> ")
		}
		env := r.To.Envelope
		if env == "" {
			env = config.EnvelopeNone
		}
		fmt.Fprintf(&b, "  %-26s %s%s -> kafka %s (envelope %s, dead letters to %s)\n",
			r.Name, strings.Join(r.From, ","), chain, r.To.Topic, env, r.DeadLetter)
	}
	f := s.opts.Fleet
	count := "until stopped"
	if f.Count > 0 {
		count = fmt.Sprintf("%d messages", f.Count)
	}
	fmt.Fprintf(&b, "\nFleet: %d sensors on 3 floors, %g messages/s in total, %s, QoS 1\n", f.Sensors, f.Rate, count)
	fmt.Fprintf(&b, "\nJoin in from another terminal:\n")
	fmt.Fprintf(&b, "  mosquitto_sub -h 127.0.0.1 -p %s -V mqttv5 -t 'building/#' -v\n", mqttPort)
	fmt.Fprintf(&b, "  mosquitto_pub -h 127.0.0.1 -p %s -V mqttv5 -q 1 -t building/floor1/room101/sensor/s999/temperature -m '{\"device_id\":\"s999\",\"value\":21.5,\"unit\":\"celsius\"}'\n", mqttPort)
	for _, r := range s.cfg.Routes {
		if !strings.Contains(r.To.Topic, "{{") {
			fmt.Fprintf(&b, "  kcat -b %s -t %s -C -f '%%k %%h %%s\\n'\n", s.kafka.Addr(), r.To.Topic)
		}
	}
	if s.cfg.Admin.Listen != "" {
		s.adminLines(&b)
	}
	b.WriteString("\n")
	_, _ = io.WriteString(s.out, b.String())
}

// run moves messages until ctx is done or the duration passes, then stops in order.
func (s *session) run(ctx context.Context) (Summary, error) {
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	if s.opts.Duration > 0 {
		var cancelTimeout context.CancelFunc
		runCtx, cancelTimeout = context.WithTimeout(runCtx, s.opts.Duration)
		defer cancelTimeout()
	}
	tapCtx, stopTap := context.WithCancel(context.WithoutCancel(ctx))
	defer stopTap()
	s.started = time.Now()

	var g errgroup.Group
	var gwErr error
	gwDone := make(chan struct{})
	g.Go(func() error {
		defer close(gwDone)
		gwErr = s.gw.Run(runCtx)
		cancelRun() // a gateway that stops on its own takes the rest with it
		return nil
	})
	g.Go(func() error {
		topic := s.fleet.Topics()[0]
		if err := s.broker.WaitSubscribed(runCtx, topic); err != nil {
			return nil // stopped before the gateway subscribed
		}
		return s.fleet.Run(runCtx, s.broker.URL())
	})
	g.Go(func() error { return s.tap.Run(tapCtx) })
	var viewWG sync.WaitGroup
	if !s.opts.Quiet {
		viewWG.Go(func() { s.view(runCtx) })
	}

	<-gwDone
	viewWG.Wait()
	s.waitReadBack(tapCtx)
	stopTap()
	err := g.Wait()
	sum := s.summary()
	s.printSummary(sum)
	if gwErr != nil && !errors.Is(gwErr, context.Canceled) && !errors.Is(gwErr, context.DeadlineExceeded) {
		return sum, fmt.Errorf("gateway: %w", gwErr)
	}
	return sum, err
}

// view prints one block per interval until ctx is done.
func (s *session) view(ctx context.Context) {
	tick := time.NewTicker(s.opts.ViewInterval)
	defer tick.Stop()
	var prev devview.Stats
	var prevPublished uint64
	last := s.started
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			stats := s.stats()
			published := s.fleet.Published()
			f := devview.Frame{
				Elapsed:       now.Sub(s.started),
				Interval:      now.Sub(last),
				Published:     published,
				PrevPublished: prevPublished,
				FleetDone:     s.opts.Fleet.Count > 0 && published >= uint64(s.opts.Fleet.Count),
				Stats:         stats,
				Prev:          prev,
				Samples:       s.tap.Take(),
				Consumed:      s.tap.Consumed(),
			}
			if err := devview.Render(s.out, f); err != nil {
				s.log.Warn("live view stopped", "error", err)
				return
			}
			prev, prevPublished, last = stats, published, now
		}
	}
}

// waitReadBack gives the tap up to two seconds to read what the gateway delivered, so the
// summary's read-back count is complete.
func (s *session) waitReadBack(ctx context.Context) {
	want := s.summary()
	deadline := time.NewTimer(2 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for s.tap.Consumed() < want.Delivered+want.DeadLettered {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}

// stats converts the gateway's counters for the view.
func (s *session) stats() devview.Stats {
	gs := s.gw.Stats()
	out := devview.Stats{MQTTConnected: gs.MQTTConnected, InFlight: gs.InFlight, Unrouted: gs.Unrouted}
	for _, r := range gs.Routes {
		rs := devview.RouteStats{Name: r.Name, In: r.In, Out: r.Out, Filtered: r.Filtered, DeadLettered: r.DeadLettered}
		for _, p := range r.Plugins {
			rs.Stages = append(rs.Stages, devview.Stage{Plugin: p.Plugin, Version: p.Version})
		}
		out.Routes = append(out.Routes, rs)
	}
	return out
}

func (s *session) summary() Summary {
	sum := Summary{Published: s.fleet.Published(), PublishFailed: s.fleet.Failed(), ReadBack: s.tap.Consumed()}
	for _, r := range s.gw.Stats().Routes {
		sum.Delivered += r.Out
		sum.DeadLettered += r.DeadLettered
		sum.Filtered += r.Filtered
	}
	return sum
}

func (s *session) printSummary(sum Summary) {
	fmt.Fprintf(s.out, "\nstopped after %s\n", time.Since(s.started).Round(100*time.Millisecond))
	fmt.Fprintf(s.out, "  published      %d messages by the fleet (%d failed)\n", sum.Published, sum.PublishFailed)
	fmt.Fprintf(s.out, "  delivered      %d records to Kafka over %d routes (%d filtered by plugins)\n", sum.Delivered, len(s.cfg.Routes), sum.Filtered)
	fmt.Fprintf(s.out, "  dead-lettered  %d\n", sum.DeadLettered)
	fmt.Fprintf(s.out, "  read back      %d records from Kafka\n", sum.ReadBack)
}
