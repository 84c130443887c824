// Package sigdump wires a signal to a command's live dump: with it,
// kill -USR1 PID has a running program print what its tasks are doing,
// without stopping it. SIGQUIT keeps its Go meaning (a goroutine dump and
// exit), so the commands use SIGUSR1.
package sigdump

import (
	"os"
	"os/signal"
	"sync"
)

// On calls dump, on a goroutine of its own, each time one of sigs
// arrives, until stop is called; stop returns once no dump is running,
// and may be called more than once. With no sigs, On watches for nothing
// (signal.Notify would take it as every signal).
func On(dump func(), sigs ...os.Signal) (stop func()) {
	if len(sigs) == 0 {
		return func() {}
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ch:
				dump()
			case <-quit:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			signal.Stop(ch)
			close(quit)
		})
		<-done
	}
}
