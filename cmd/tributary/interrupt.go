package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// stopGrace is how long dev and bench may take to stop after Ctrl-C before the process quits
// anyway: their orderly stop (drain the gateway, read back, close the broker and Kafka) takes
// well under it unless something is stuck.
const stopGrace = 10 * time.Second

// exitInterrupted is the exit code after a second Ctrl-C (128 + SIGINT, as shells report).
const exitInterrupted = 130

// quitOnSecondInterrupt makes sure a command that stops on ctx (which main cancels on the
// first SIGINT or SIGTERM) never keeps the terminal: after the first signal it says on
// stderr that it is stopping, a second signal exits the process at once with code 130, and
// if the command has not returned grace after the first signal, the process exits with code
// 1 and a message. Call the returned function when the command returns.
func quitOnSecondInterrupt(name string, grace time.Duration, stderr io.Writer) (release func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-sigs:
		}
		fmt.Fprintf(stderr, "\ntributary %s: stopping (Ctrl-C again to quit at once)\n", name)
		timer := time.NewTimer(grace)
		defer timer.Stop()
		select {
		case <-done:
		case <-sigs:
			fmt.Fprintf(stderr, "tributary %s: quit on second interrupt\n", name)
			os.Exit(exitInterrupted)
		case <-timer.C:
			fmt.Fprintf(stderr, "tributary %s: did not stop within %s of the interrupt; quitting\n", name, grace)
			os.Exit(1)
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

// interrupted wraps err, returned by a command stopped early by ctx (Ctrl-C), to say so.
func interrupted(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("interrupted before the run finished: %w", err)
	}
	return err
}
