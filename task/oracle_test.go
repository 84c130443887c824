package task_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lwtask/lwtask/internal/tasktest"
	"github.com/lwtask/lwtask/scheduler"
	"github.com/lwtask/lwtask/task"
)

// The oracle test generates random programs of tasks that talk over
// channels, runs each on lwtask (task.Chan, task.Select, both task styles)
// and on goroutines with Go's own chan and select (the oracle), and
// compares what does not depend on the schedule.
//
// Shape of a program. Channels are numbered; each is consumed by exactly
// one stage, a pool of 1-3 replica tasks that all route a value the same
// way (by the value alone) to the stage's outputs, which are higher
// numbered channels, or deliver it if the stage is a sink. Sources run a
// fixed script of plain sends, sends in 2-4-way selects, TrySends and
// yields, each value bound for a fixed channel; a value whose select case
// lost, or whose TrySend failed, is sent again later. So every value takes
// the same path in every run, and what crosses each channel is the same
// multiset, whatever the interleaving. A channel is closed by the last of
// its producers to finish, after which that task may try to send on it or
// close it again: lwtask must say ErrChanClosed where Go panics.
//
// Why no program deadlocks. A task that waits with nothing to send waits on
// every open input at once; it may wait on one alone only when that is the
// only one open. Then, in any stuck state, the highest task waiting to send
// would have a consumer waiting on that very channel, and, with no task
// waiting to send, the lowest task waiting to receive would have a producer
// still alive, and so waiting too, lower still: neither can be. So every
// schedule of Go's and of lwtask's ends with everything delivered.
//
// One seed in four adds a deadlock on purpose: a source P sends plain
// values to a channel c whose only consumer, E, stops after K of them, so
// P's send of value K+cap(c)+1 waits for ever, and so does every task that
// waits for a channel P would have closed, directly or through others. The
// set of stuck tasks, the values E takes and those left in c are known in
// advance. lwtask must report exactly those tasks in a DeadlockError. The
// oracle cannot ask Go whether its goroutines are stuck, so it waits until
// every other goroutine has ended and every value that can be delivered
// has been, at which point the rest can only be waiting, and then releases
// them through a quit channel that every blocking operation also selects
// on.

// oracleSeeds is how many programs TestOracle runs: 500, or 100 with
// -short. LWTASK_ORACLE_SEEDS=N runs N (a longer sweep), and
// LWTASK_ORACLE_SEED=S runs seed S alone, printing its program.
func oracleSeeds(t *testing.T) (first, n uint64) {
	if s := os.Getenv("LWTASK_ORACLE_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LWTASK_ORACLE_SEED=%q: %v", s, err)
		}
		return seed, 1
	}
	n = 500
	if testing.Short() {
		n = 100
	}
	if s := os.Getenv("LWTASK_ORACLE_SEEDS"); s != "" {
		var err error
		if n, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("LWTASK_ORACLE_SEEDS=%q: %v", s, err)
		}
	}
	return 1, n
}

// TestOracle runs the programs of many seeds both ways and fails on any
// difference, naming the seed and printing the program. A seed fixes the
// program, not the interleaving: lwtask's selects choose at random, as Go's
// do, so a failure that does not show at once may need -count=N.
func TestOracle(t *testing.T) {
	first, n := oracleSeeds(t)
	failed := 0
	var tasks, raw, deadlocks, values int
	var lwOps, goOps [len(kindNames)]int
	var waits int
	for seed := first; seed < first+n && failed < 5; seed++ {
		p := genProgram(seed)
		if n == 1 {
			t.Logf("program of seed %d:\n%s", seed, p)
		}
		tasks += len(p.tasks)
		for _, tk := range p.tasks {
			if tk.raw {
				raw++
			}
		}
		if p.deadlock {
			deadlocks++
		}
		values += len(p.delivered) + len(p.early) + len(p.left)
		msg, lw, gor := checkProgram(p)
		for k := range kindNames {
			lwOps[k] += lw.ops[k]
			goOps[k] += gor.ops[k]
		}
		waits += lw.waits
		if msg != "" {
			failed++
			t.Errorf("seed %d (rerun: LWTASK_ORACLE_SEED=%d go test -run TestOracle ./task/): %s\nprogram:\n%s", seed, seed, msg, p)
		}
	}
	t.Logf("%d programs, %d with a deadlock: %d tasks (%d raw step), %d values", n, deadlocks, tasks, raw, values)
	for k, name := range kindNames {
		t.Logf("%-12s lwtask %6d   Go %6d", name, lwOps[k], goOps[k])
	}
	t.Logf("raw step ErrAgain: %d", waits)
}

// A program, as generated from a seed.
type oProgram struct {
	seed  uint64
	chans []oChan
	tasks []oTask
	// The deadlock, if any: the task of the values c takes (P), and what
	// is known in advance.
	deadlock  bool
	stuck     []bool // tasks that wait for ever
	delivered []int  // every value the sinks get, sorted
	early     []int  // the values E takes, in order; then the ones left in c
	left      []int
	earlyChan int
}

type oChan struct {
	cap       int
	producers []int // tasks
	consumers []int
}

type oTask struct {
	name    string
	source  bool
	inputs  []int
	outputs []int // a stage's outputs, shared by its replicas; a source's channels
	stage   int   // the stage a replica is of, for routing
	script  []oOp // a source's
	early   int   // E: stop after this many values
	isEarly bool
	raw     bool // on lwtask, a raw step task
}

// An operation of a task, as its machine asks for it.
type oOp struct {
	kind  oKind
	cases []oCase // one for a plain operation
	retry bool    // a source's send of values that lost before
}

type oKind uint8

const (
	oSend oKind = iota
	oRecv
	oSelect
	oTrySend
	oTryRecv
	oYield
	oDrain       // receive until closed (Chan.All, range)
	oClose       // done producing on the channel; the last producer closes it
	oSendClosed  // on a channel this task closed: plain (val 0), Try (1), Select (2)
	oCloseClosed // close it again
)

var kindNames = [...]string{"send", "recv", "select", "trysend", "tryrecv", "yield", "drain", "close", "sendclosed", "closeclosed"}

type oCase struct {
	ch   int
	send bool
	val  int
}

// What an operation did.
type oRes struct {
	idx    int  // the case that completed
	val    int  // the value received
	ok     bool // a Try completed; a close was this task's
	closed bool // the receive found the channel closed and drained
}

// route is where a stage sends value v: the same for all its replicas and
// in every run.
func route(v, stage, n int) int {
	h := uint64(v)*0x9e3779b97f4a7c15 + uint64(stage)*0xbf58476d1ce4e5b9
	return int((h >> 33) % uint64(n))
}

func genProgram(seed uint64) *oProgram {
	rng := rand.New(rand.NewPCG(seed, 0x6c777461736b))
	p := &oProgram{seed: seed, deadlock: seed%4 == 3, earlyChan: -1}
	for {
		p.chans, p.tasks = nil, nil
		genNetwork(p, rng)
		if n := len(p.tasks); n >= 3 && n <= 12 {
			break
		}
	}
	if p.deadlock {
		genDeadlock(p, rng)
	}
	for i := range p.tasks {
		p.tasks[i].raw = rng.IntN(3) == 0
		for _, ch := range p.tasks[i].inputs {
			p.chans[ch].consumers = append(p.chans[ch].consumers, i)
		}
		for _, ch := range p.tasks[i].outputs {
			p.chans[ch].producers = append(p.chans[ch].producers, i)
		}
	}
	predict(p)
	return p
}

// genNetwork makes the channels, the stages that consume them and the
// sources that feed them.
func genNetwork(p *oProgram, rng *rand.Rand) {
	m := 1 + rng.IntN(4)
	for range m {
		p.chans = append(p.chans, oChan{cap: rng.IntN(4)})
	}
	hasProducer := make([]bool, m)
	// Stages consume consecutive groups of channels and send to higher ones.
	for lo, stage := 0, 0; lo < m; stage++ {
		hi := min(m, lo+1+rng.IntN(2))
		var outs []int
		for ch := hi; ch < m; ch++ {
			if rng.IntN(2) == 0 {
				outs = append(outs, ch)
				hasProducer[ch] = true
			}
		}
		replicas := 1 + rng.IntN(3)
		ins := make([][]int, replicas)
		for ch := lo; ch < hi; ch++ { // every channel has a consumer
			r := rng.IntN(replicas)
			ins[r] = append(ins[r], ch)
			for k := range replicas {
				if k != r && rng.IntN(3) == 0 {
					ins[k] = append(ins[k], ch)
				}
			}
		}
		for k := range replicas {
			if len(ins[k]) == 0 {
				ins[k] = []int{lo + rng.IntN(hi-lo)}
			}
			slices.Sort(ins[k])
			p.tasks = append(p.tasks, oTask{
				name: fmt.Sprintf("stage%d.%d", stage, k), inputs: ins[k], outputs: outs, stage: stage,
			})
		}
		lo = hi
	}
	sources := 1 + rng.IntN(3)
	outs := make([][]int, sources)
	for ch := range m {
		if !hasProducer[ch] || rng.IntN(3) == 0 {
			k := rng.IntN(sources)
			outs[k] = append(outs[k], ch)
		}
	}
	for k := range sources {
		if len(outs[k]) == 0 {
			outs[k] = []int{rng.IntN(m)}
		}
		src := oTask{name: fmt.Sprintf("source%d", k), source: true, outputs: outs[k], stage: -1}
		var vals []oCase
		for i := range rng.IntN(25) {
			vals = append(vals, oCase{ch: outs[k][rng.IntN(len(outs[k]))], send: true, val: 1000*(k+1) + i})
		}
		for len(vals) > 0 {
			r := rng.IntN(100)
			switch n := 2 + rng.IntN(3); {
			case r < 10:
				src.script = append(src.script, oOp{kind: oYield})
				continue
			case r < 25:
				src.script = append(src.script, oOp{kind: oTrySend, cases: vals[:1]})
				vals = vals[1:]
			case r < 55 && len(vals) >= n:
				src.script = append(src.script, oOp{kind: oSelect, cases: vals[:n]})
				vals = vals[n:]
			default:
				src.script = append(src.script, oOp{kind: oSend, cases: vals[:1]})
				vals = vals[1:]
			}
		}
		p.tasks = append(p.tasks, src)
	}
}

// genDeadlock adds the source P, its channel c and c's consumer E, which
// stops early.
func genDeadlock(p *oProgram, rng *rand.Rand) {
	c := len(p.chans)
	p.earlyChan = c
	p.chans = append(p.chans, oChan{cap: rng.IntN(4)})
	k := rng.IntN(4)
	outs := []int{c}
	if rng.IntN(2) == 0 { // P also feeds the network, which then waits for it
		outs = append(outs, rng.IntN(c))
	}
	src := oTask{name: "P", source: true, outputs: outs, stage: -1}
	nc := k + p.chans[c].cap + 1 + rng.IntN(3) // one more than c can take
	nd := 0
	if len(outs) > 1 {
		nd = rng.IntN(8)
	}
	for i := 0; nc+nd > 0; i++ {
		if rng.IntN(6) == 0 {
			src.script = append(src.script, oOp{kind: oYield})
		}
		// Plain sends only: the order of c's values is then P's own.
		ch := c
		if nd > 0 && (nc == 0 || rng.IntN(nc+nd) < nd) {
			ch, nd = outs[1], nd-1
		} else {
			nc--
		}
		src.script = append(src.script, oOp{kind: oSend, cases: []oCase{{ch: ch, send: true, val: 100000 + i}}})
	}
	p.tasks = append(p.tasks, src,
		oTask{name: "E", inputs: []int{c}, stage: -1, early: k, isEarly: true})
}

// predict works out, from the program alone, which tasks are stuck at the
// end and which values reach the sinks, E and c's buffer.
func predict(p *oProgram) {
	p.stuck = make([]bool, len(p.tasks))
	cut := -1 // the index in P's script of the send that waits for ever
	if p.deadlock {
		pi := len(p.tasks) - 2
		p.stuck[pi] = true
		c := p.earlyChan
		n := 0
		for i, op := range p.tasks[pi].script {
			if op.kind == oSend && op.cases[0].ch == c {
				switch {
				case n < p.tasks[pi+1].early:
					p.early = append(p.early, op.cases[0].val)
				case n < p.tasks[pi+1].early+p.chans[c].cap:
					p.left = append(p.left, op.cases[0].val)
				case cut < 0:
					cut = i
				}
				n++
			}
		}
		// A channel with a stuck producer is never closed, and its
		// consumers wait for ever in turn (E apart, which leaves).
		for changed := true; changed; {
			changed = false
			for ch, c := range p.chans {
				if ch == p.earlyChan || !slices.ContainsFunc(c.producers, func(i int) bool { return p.stuck[i] }) {
					continue
				}
				for _, i := range c.consumers {
					if !p.stuck[i] {
						p.stuck[i], changed = true, true
					}
				}
			}
		}
	}
	for i, tk := range p.tasks {
		for j, op := range tk.script {
			if cut >= 0 && i == len(p.tasks)-2 && j >= cut {
				break
			}
			for _, c := range op.cases {
				if c.ch != p.earlyChan {
					p.delivered = append(p.delivered, c.val)
				}
			}
		}
	}
	slices.Sort(p.delivered)
}

func (p *oProgram) String() string {
	var b strings.Builder
	for i, c := range p.chans {
		fmt.Fprintf(&b, "  chan %d: cap %d, producers %v, consumers %v\n", i, c.cap, c.producers, c.consumers)
	}
	for i, tk := range p.tasks {
		style := "generator"
		if tk.raw {
			style = "raw"
		}
		fmt.Fprintf(&b, "  task %d %s (%s): in %v out %v", i, tk.name, style, tk.inputs, tk.outputs)
		if tk.isEarly {
			fmt.Fprintf(&b, ", stops after %d", tk.early)
		}
		if p.stuck[i] {
			b.WriteString(", stuck")
		}
		b.WriteString("\n")
		for _, op := range tk.script {
			fmt.Fprintf(&b, "    %s %v\n", kindNames[op.kind], op.cases)
		}
	}
	return b.String()
}

// A recorder gathers what a run did. Goroutines share it, hence the lock.
type recorder struct {
	mu        sync.Mutex
	sent      [][]int // per channel: the values whose send completed
	recv      [][]int // per channel: the values received
	left      [][]int // per channel: the values still buffered at the end
	delivered []int
	sawClose  map[[2]int]bool // task, channel
	closes    []int           // per channel
	stuck     []bool          // tasks that were released by the quit channel (Go)
	fails     []string
	ops       [len(kindNames)]int // operations done, by kind, for the log
	waits     int                 // lwtask: ErrAgain from a step form
	// What must happen before only stuck tasks can be left: every value
	// the sinks are to get delivered, and c filled. reached is closed then.
	need      int
	earlyChan int
	reached   chan struct{}
}

func newRecorder(p *oProgram) *recorder {
	n := len(p.chans)
	r := &recorder{
		sent: make([][]int, n), recv: make([][]int, n), left: make([][]int, n),
		sawClose: map[[2]int]bool{}, closes: make([]int, n), stuck: make([]bool, len(p.tasks)),
		need: len(p.delivered) + len(p.early) + len(p.left), earlyChan: p.earlyChan,
		reached: make(chan struct{}),
	}
	if r.need == 0 {
		close(r.reached)
	}
	return r
}

// count notes one of the events reached waits for; the lock is held.
func (r *recorder) count() {
	if r.need--; r.need == 0 {
		close(r.reached)
	}
}

func (r *recorder) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fails = append(r.fails, fmt.Sprintf(format, args...))
}

func (r *recorder) didSend(ch, v int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent[ch] = append(r.sent[ch], v)
	if ch == r.earlyChan {
		r.count()
	}
}

func (r *recorder) didRecv(ch, v int, deliver bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recv[ch] = append(r.recv[ch], v)
	if deliver {
		r.delivered = append(r.delivered, v)
		r.count()
	}
}

func (r *recorder) didSeeClose(task, ch int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sawClose[[2]int{task, ch}] = true
}

func (r *recorder) didClose(ch int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closes[ch]++
}

// A machine is one task's program: it says what to do next and learns
// what came of it, the same way on lwtask and on goroutines.
type machine struct {
	p     *oProgram
	id    int
	tk    *oTask
	rng   *rand.Rand
	rec   *recorder
	pc    int     // a source's place in its script
	retry []int   // a source's values to send again, by value
	open  []int   // inputs not yet closed
	queue [][]int // per output: values to pass on
	got   int     // values received, for E
	done  bool    // the main work is over: closing
	tail  []oOp   // what is left to do once done
}

func newMachine(p *oProgram, id int, rec *recorder) *machine {
	tk := &p.tasks[id]
	return &machine{
		p: p, id: id, tk: tk, rec: rec,
		rng:   rand.New(rand.NewPCG(p.seed, uint64(id))),
		open:  slices.Clone(tk.inputs),
		queue: make([][]int, len(tk.outputs)),
	}
}

// dest is the channel a source's value goes to.
func (m *machine) dest(v int) int {
	for _, op := range m.tk.script {
		for _, c := range op.cases {
			if c.val == v {
				return c.ch
			}
		}
	}
	panic(fmt.Sprint("no value ", v))
}

func (m *machine) next() (oOp, bool) {
	if !m.done {
		if op, ok := m.work(); ok {
			return op, true
		}
		m.done = true
		for _, ch := range m.tk.outputs {
			m.tail = append(m.tail, oOp{kind: oClose, cases: []oCase{{ch: ch}}})
		}
	}
	if len(m.tail) == 0 {
		return oOp{}, false
	}
	op := m.tail[0]
	m.tail = m.tail[1:]
	return op, true
}

func (m *machine) work() (oOp, bool) {
	rng := m.rng
	switch {
	case m.tk.source:
		if m.pc < len(m.tk.script) {
			m.pc++
			return m.tk.script[m.pc-1], true
		}
		if len(m.retry) == 0 {
			return oOp{}, false
		}
		n := min(len(m.retry), 1+rng.IntN(4))
		op := oOp{kind: oSelect, retry: true}
		if n == 1 {
			op.kind = oSend
		}
		for _, v := range m.retry[:n] {
			op.cases = append(op.cases, oCase{ch: m.dest(v), send: true, val: v})
		}
		return op, true
	case m.tk.isEarly:
		if m.got == m.tk.early {
			return oOp{}, false
		}
		c := []oCase{{ch: m.tk.inputs[0]}}
		switch r := rng.IntN(10); {
		case r < 1:
			return oOp{kind: oYield}, true
		case r < 3:
			return oOp{kind: oTryRecv, cases: c}, true
		case r < 5:
			return oOp{kind: oSelect, cases: c}, true
		}
		return oOp{kind: oRecv, cases: c}, true
	}
	var pending []int // outputs with something to pass on
	for k, q := range m.queue {
		if len(q) > 0 {
			pending = append(pending, k)
		}
	}
	if len(m.open) == 0 && len(pending) == 0 {
		return oOp{}, false
	}
	r := rng.IntN(100)
	if len(pending) == 0 {
		one := []oCase{{ch: m.open[rng.IntN(len(m.open))]}}
		switch {
		case r < 10:
			return oOp{kind: oYield}, true
		case r < 25:
			return oOp{kind: oTryRecv, cases: one}, true
		case len(m.open) == 1 && len(m.tk.outputs) == 0 && !m.tk.raw && r < 45:
			return oOp{kind: oDrain, cases: one}, true
		case len(m.open) == 1 && r < 70:
			return oOp{kind: oRecv, cases: one}, true
		}
		// Waiting with nothing to send: on every open input (see above).
		op := oOp{kind: oSelect}
		for _, ch := range m.open {
			op.cases = append(op.cases, oCase{ch: ch})
		}
		rng.Shuffle(len(op.cases), func(i, j int) { op.cases[i], op.cases[j] = op.cases[j], op.cases[i] })
		return op, true
	}
	k := pending[rng.IntN(len(pending))]
	head := []oCase{{ch: m.tk.outputs[k], send: true, val: m.queue[k][0]}}
	switch {
	case r < 8:
		return oOp{kind: oYield}, true
	case r < 20:
		return oOp{kind: oTrySend, cases: head}, true
	case r < 40:
		return oOp{kind: oSend, cases: head}, true
	}
	op := oOp{kind: oSelect}
	for _, ch := range m.open {
		if rng.IntN(5) < 3 {
			op.cases = append(op.cases, oCase{ch: ch})
		}
	}
	for _, k := range pending {
		op.cases = append(op.cases, oCase{ch: m.tk.outputs[k], send: true, val: m.queue[k][0]})
	}
	for _, k := range pending { // a second value for one channel: two cases on it
		if len(m.queue[k]) > 1 && len(op.cases) < 4 && rng.IntN(2) == 0 {
			op.cases = append(op.cases, oCase{ch: m.tk.outputs[k], send: true, val: m.queue[k][1]})
		}
	}
	rng.Shuffle(len(op.cases), func(i, j int) { op.cases[i], op.cases[j] = op.cases[j], op.cases[i] })
	return op, true
}

// apply learns the result of op.
func (m *machine) apply(op oOp, res oRes) {
	switch op.kind {
	case oSend:
		m.sent(op, 0)
	case oTrySend:
		if res.ok {
			m.sent(op, 0)
		} else if m.tk.source {
			m.retry = append(m.retry, op.cases[0].val)
		}
	case oSelect:
		c := op.cases[res.idx]
		if c.send {
			m.sent(op, res.idx)
		} else {
			m.received(c.ch, res.val, res.closed)
		}
		if m.tk.source && !op.retry { // the values that lost go again later
			for i, c := range op.cases {
				if i != res.idx {
					m.retry = append(m.retry, c.val)
				}
			}
		}
	case oRecv:
		m.received(op.cases[0].ch, res.val, res.closed)
	case oTryRecv:
		if res.ok || res.closed {
			m.received(op.cases[0].ch, res.val, res.closed)
		}
	case oDrain: // the values were taken as they came
		m.received(op.cases[0].ch, 0, true)
	case oClose:
		if !res.ok {
			break
		}
		// This task closed it: sometimes misuse it, as Go would not let.
		ch := op.cases[0].ch
		if m.rng.IntN(3) == 0 {
			m.tail = append(m.tail, oOp{kind: oSendClosed, cases: []oCase{{ch: ch, send: true, val: m.rng.IntN(3)}}})
		}
		if m.rng.IntN(3) == 0 {
			m.tail = append(m.tail, oOp{kind: oCloseClosed, cases: []oCase{{ch: ch}}})
		}
	}
}

func (m *machine) sent(op oOp, i int) {
	c := op.cases[i]
	m.rec.didSend(c.ch, c.val)
	if m.tk.source {
		if op.retry {
			m.retry = slices.DeleteFunc(m.retry, func(v int) bool { return v == c.val })
		}
		return
	}
	for k, ch := range m.tk.outputs {
		if ch == c.ch {
			j := slices.Index(m.queue[k], c.val)
			m.queue[k] = slices.Delete(m.queue[k], j, j+1)
		}
	}
}

func (m *machine) received(ch, v int, closed bool) {
	if closed {
		m.rec.didSeeClose(m.id, ch)
		m.open = slices.DeleteFunc(m.open, func(c int) bool { return c == ch })
		return
	}
	m.rec.didRecv(ch, v, len(m.tk.outputs) == 0 && !m.tk.isEarly)
	switch {
	case m.tk.isEarly:
		m.got++
	case len(m.tk.outputs) > 0:
		k := route(v, m.tk.stage, len(m.tk.outputs))
		m.queue[k] = append(m.queue[k], v)
	}
}

// A backend does one operation for a machine, waiting as long as it must.
// A drain hands each value to each as it comes, since a drain that never
// ends (its channel is never closed) must still count what it took.
type backend interface {
	do(op oOp, each func(v int)) oRes
}

func runMachine(m *machine, b backend) {
	var each func(v int)
	for {
		op, ok := m.next()
		if !ok {
			return
		}
		if op.kind == oDrain {
			ch := op.cases[0].ch
			each = func(v int) { m.received(ch, v, false) }
		}
		m.apply(op, b.do(op, each))
		m.rec.mu.Lock()
		m.rec.ops[op.kind]++
		m.rec.mu.Unlock()
	}
}

// lwWorld is a program's channels on lwtask.
type lwWorld struct {
	chans []*task.Chan[int]
	left  []int // producers yet to finish, per channel
	rec   *recorder
}

// lwGen runs operations for a generator-style task.
type lwGen struct {
	w  *lwWorld
	tk *task.Task
}

func (b lwGen) do(op oOp, each func(int)) oRes {
	w, tk := b.w, b.tk
	var res oRes
	c0 := op.cases[0:min(1, len(op.cases))]
	switch op.kind {
	case oSend:
		if err := w.chans[c0[0].ch].Send(tk, c0[0].val); err != nil {
			w.rec.fail("%s: Send: %v", tk, err)
		}
	case oRecv:
		v, err := w.chans[c0[0].ch].Recv(tk)
		res = w.received(tk, "Recv", v, err)
	case oSelect:
		var v int
		cases := w.cases(op, &v)
		i, err := task.Select(tk, cases...)
		res = w.selected(tk, op, i, v, err)
	case oYield:
		tk.Yield()
	case oDrain:
		var err error
		for v := range w.chans[c0[0].ch].All(tk, &err) {
			each(v)
		}
		if err != nil {
			w.rec.fail("%s: All: %v", tk, err)
		}
	case oSendClosed:
		if c0[0].val == 0 {
			if err := w.chans[c0[0].ch].Send(tk, -1); err != task.ErrChanClosed {
				w.rec.fail("%s: Send on a closed channel: %v", tk, err)
			}
			break
		}
		if c0[0].val == 2 {
			i, err := task.Select(tk, w.chans[c0[0].ch].SendCase(-1))
			if i != 0 || err != task.ErrChanClosed {
				w.rec.fail("%s: Select with a send on a closed channel: %d %v", tk, i, err)
			}
			break
		}
		fallthrough
	default:
		return w.now(tk, op)
	}
	return res
}

// now does the operations that never wait, for either style.
func (w *lwWorld) now(tk *task.Task, op oOp) oRes {
	var res oRes
	c := op.cases[0]
	ch := w.chans[c.ch]
	switch op.kind {
	case oTrySend:
		var err error
		if res.ok, err = ch.TrySend(c.val); err != nil {
			w.rec.fail("%s: TrySend: %v", tk, err)
		}
	case oTryRecv:
		v, ok, err := ch.TryRecv()
		switch {
		case ok:
			res.ok, res.val = true, v
		case err == task.ErrChanClosed:
			res.closed = true
		case err != nil:
			w.rec.fail("%s: TryRecv: %v", tk, err)
		}
	case oClose:
		if w.left[c.ch]--; w.left[c.ch] == 0 {
			if err := ch.Close(); err != nil {
				w.rec.fail("%s: Close: %v", tk, err)
			}
			w.rec.didClose(c.ch)
			res.ok = true
		}
	case oSendClosed: // the Try form
		if ok, err := ch.TrySend(-1); ok || err != task.ErrChanClosed {
			w.rec.fail("%s: TrySend on a closed channel: %v %v", tk, ok, err)
		}
	case oCloseClosed:
		if err := ch.Close(); err != task.ErrChanClosed {
			w.rec.fail("%s: second Close: %v", tk, err)
		}
	default:
		panic(fmt.Sprint("now: ", kindNames[op.kind]))
	}
	return res
}

func (w *lwWorld) cases(op oOp, v *int) []task.Case {
	cases := make([]task.Case, len(op.cases))
	for i, c := range op.cases {
		if c.send {
			cases[i] = w.chans[c.ch].SendCase(c.val)
		} else {
			cases[i] = w.chans[c.ch].RecvCase(v)
		}
	}
	return cases
}

func (w *lwWorld) received(tk *task.Task, what string, v int, err error) oRes {
	switch err {
	case nil:
		return oRes{val: v}
	case task.ErrChanClosed:
		return oRes{closed: true}
	}
	w.rec.fail("%s: %s: %v", tk, what, err)
	return oRes{closed: true}
}

func (w *lwWorld) selected(tk *task.Task, op oOp, i, v int, err error) oRes {
	if i < 0 || i >= len(op.cases) {
		w.rec.fail("%s: Select over %v: case %d, %v", tk, op.cases, i, err)
		return oRes{idx: 0, closed: true}
	}
	if !op.cases[i].send {
		res := w.received(tk, "Select", v, err)
		res.idx = i
		return res
	}
	if err != nil {
		w.rec.fail("%s: Select, send case %v: %v", tk, op.cases[i], err)
	}
	return oRes{idx: i}
}

// lwRaw runs a machine as a raw step function, with the step forms: each
// operation is asked for again, unchanged, until it stops saying ErrAgain.
func lwRaw(w *lwWorld, m *machine) task.Step {
	var cur *oOp
	yielded := false
	var v int
	return func(tk *task.Task) task.Status {
		for {
			if cur == nil {
				op, ok := m.next()
				if !ok {
					return task.Finish
				}
				cur, yielded = &op, false
			}
			op := *cur
			var res oRes
			var err error
			c := op.cases[0:min(1, len(op.cases))]
			switch op.kind {
			case oYield:
				if !yielded {
					yielded = true
					return task.Yield
				}
			case oSend:
				if err = w.chans[c[0].ch].SendStep(tk, c[0].val); err != nil && err != task.ErrAgain {
					w.rec.fail("%s: SendStep: %v", tk, err)
				}
			case oRecv:
				var got int
				if got, err = w.chans[c[0].ch].RecvStep(tk); err != task.ErrAgain {
					res = w.received(tk, "RecvStep", got, err)
				}
			case oSelect:
				var i int
				if i, err = task.SelectStep(tk, w.cases(op, &v)...); err != task.ErrAgain {
					res = w.selected(tk, op, i, v, err)
				}
			case oSendClosed:
				switch c[0].val {
				case 0:
					if err = w.chans[c[0].ch].SendStep(tk, -1); err != task.ErrAgain && err != task.ErrChanClosed {
						w.rec.fail("%s: SendStep on a closed channel: %v", tk, err)
					}
				case 1:
					res = w.now(tk, op)
				case 2:
					var i int
					i, err = task.SelectStep(tk, w.chans[c[0].ch].SendCase(-1))
					if err != task.ErrAgain && (i != 0 || err != task.ErrChanClosed) {
						w.rec.fail("%s: SelectStep with a send on a closed channel: %d %v", tk, i, err)
					}
				}
			default:
				res = w.now(tk, op)
			}
			if err == task.ErrAgain {
				w.rec.waits++
				return task.Yield
			}
			cur = nil
			m.apply(op, res)
			w.rec.ops[op.kind]++
		}
	}
}

// runLwtask runs p on lwtask and returns what it did and Run's error.
func runLwtask(p *oProgram) (*recorder, error) {
	rec := newRecorder(p)
	s := scheduler.New()
	w := &lwWorld{rec: rec, left: make([]int, len(p.chans))}
	for i, c := range p.chans {
		w.chans = append(w.chans, task.NewChan[int](fmt.Sprint("c", i), c.cap))
		w.left[i] = len(c.producers)
	}
	for i, tk := range p.tasks {
		m := newMachine(p, i, rec)
		if tk.raw {
			s.GoStep(tk.name, lwRaw(w, m))
		} else {
			s.Go(tk.name, func(t *task.Task) { runMachine(m, lwGen{w, t}) })
		}
	}
	err := tasktest.RunBounded(s, 20*time.Second)
	if s.Len() != 0 {
		rec.fail("%d tasks left after Run", s.Len())
	}
	for i, c := range w.chans {
		for {
			v, ok, _ := c.TryRecv()
			if !ok {
				break
			}
			rec.left[i] = append(rec.left[i], v)
		}
	}
	return rec, err
}

// errQuit unwinds an oracle goroutine released from a wait that would
// never end.
var errQuit = errors.New("oracle: released by quit")

// goWorld is a program's channels on goroutines: the oracle.
type goWorld struct {
	chans []reflect.Value // chan int
	left  []atomic.Int32
	quit  chan struct{}
	rec   *recorder
	name  string
}

func (w *goWorld) ch(i int) chan int { return w.chans[i].Interface().(chan int) }

func (w *goWorld) do(op oOp, each func(int)) oRes {
	var res oRes
	var c oCase
	if len(op.cases) > 0 {
		c = op.cases[0]
	}
	switch op.kind {
	case oSend:
		select {
		case w.ch(c.ch) <- c.val:
		case <-w.quit:
			panic(errQuit)
		}
	case oRecv:
		select {
		case v, ok := <-w.ch(c.ch):
			res.val, res.closed = v, !ok
		case <-w.quit:
			panic(errQuit)
		}
	case oSelect:
		cases := make([]reflect.SelectCase, 0, len(op.cases)+1)
		for _, c := range op.cases {
			if c.send {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectSend, Chan: w.chans[c.ch], Send: reflect.ValueOf(c.val)})
			} else {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: w.chans[c.ch]})
			}
		}
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w.quit)})
		i, v, ok := reflect.Select(cases)
		if i == len(op.cases) {
			panic(errQuit)
		}
		res.idx = i
		if !op.cases[i].send {
			if ok {
				res.val = int(v.Int())
			} else {
				res.closed = true
			}
		}
	case oTrySend:
		select {
		case w.ch(c.ch) <- c.val:
			res.ok = true
		default:
		}
	case oTryRecv:
		select {
		case v, ok := <-w.ch(c.ch):
			res.ok, res.val, res.closed = ok, v, !ok
		default:
		}
	case oYield:
		runtime.Gosched()
	case oDrain:
		for {
			select {
			case v, ok := <-w.ch(c.ch):
				if !ok {
					return res
				}
				each(v)
			case <-w.quit:
				panic(errQuit)
			}
		}
	case oClose:
		if w.left[c.ch].Add(-1) == 0 {
			close(w.ch(c.ch))
			w.rec.didClose(c.ch)
			res.ok = true
		}
	case oSendClosed:
		w.mustPanic("send on closed channel", func() {
			ch := w.ch(c.ch)
			switch c.val {
			case 0:
				ch <- -1
			case 1:
				select {
				case ch <- -1:
				default:
				}
			case 2:
				reflect.Select([]reflect.SelectCase{{Dir: reflect.SelectSend, Chan: w.chans[c.ch], Send: reflect.ValueOf(-1)}})
			}
		})
	case oCloseClosed:
		w.mustPanic("close of closed channel", func() { close(w.ch(c.ch)) })
	}
	return res
}

// mustPanic checks that Go panics where lwtask returns ErrChanClosed.
func (w *goWorld) mustPanic(want string, f func()) {
	defer func() {
		if msg := fmt.Sprint(recover()); !strings.Contains(msg, want) {
			w.rec.fail("%s (Go): panic %q, want %q", w.name, msg, want)
		}
	}()
	f()
}

// runGo runs p on goroutines and returns what they did. A stuck goroutine
// is released once every other has ended and every value that can be
// delivered has been; a run that takes far too long is stopped the same
// way and reported.
func runGo(p *oProgram) *recorder {
	rec := newRecorder(p)
	quit := make(chan struct{})
	left := make([]atomic.Int32, len(p.chans))
	chans := make([]reflect.Value, len(p.chans))
	for i, c := range p.chans {
		chans[i] = reflect.ValueOf(make(chan int, c.cap))
		left[i].Store(int32(len(c.producers)))
	}
	var live, stuck sync.WaitGroup
	for i, tk := range p.tasks {
		wg := &live
		if p.stuck[i] {
			wg = &stuck
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				switch r := recover(); r {
				case nil:
				case errQuit:
					rec.mu.Lock()
					rec.stuck[i] = true
					rec.mu.Unlock()
				default:
					rec.fail("%s (Go) panicked: %v", tk.name, r)
				}
			}()
			w := &goWorld{chans: chans, left: left, quit: quit, rec: rec, name: tk.name}
			runMachine(newMachine(p, i, rec), w)
		}()
	}
	allLive := make(chan struct{})
	go func() {
		live.Wait()
		select {
		case <-rec.reached:
		case <-quit: // the watchdog gave up
		}
		close(allLive)
	}()
	watchdog := time.NewTimer(20 * time.Second)
	defer watchdog.Stop()
	select {
	case <-allLive:
	case <-watchdog.C:
		rec.mu.Lock()
		rec.fails = append(rec.fails, fmt.Sprintf("the oracle did not finish: goroutines still running, or %d values and sends to wait for", rec.need))
		rec.mu.Unlock()
		close(quit)
		live.Wait()
		stuck.Wait()
		<-allLive
		return rec
	}
	close(quit)
	stuck.Wait()
	for i, c := range chans {
		for {
			v, ok := c.TryRecv()
			if !ok {
				break
			}
			rec.left[i] = append(rec.left[i], int(v.Int()))
		}
	}
	return rec
}

// checkProgram runs p both ways and returns what is wrong, or "", and
// what each run did.
func checkProgram(p *oProgram) (string, *recorder, *recorder) {
	lw, lwErr := runLwtask(p)
	gor := runGo(p)
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// How each run ended.
	var wantStuck []string
	for i, tk := range p.tasks {
		if p.stuck[i] {
			wantStuck = append(wantStuck, tk.name)
		}
	}
	var dl *scheduler.DeadlockError
	switch {
	case errors.Is(lwErr, tasktest.ErrHung):
		bad("lwtask: Run hung: %v", lwErr)
	case len(wantStuck) == 0 && lwErr != nil:
		bad("lwtask: Run: %v", lwErr)
	case len(wantStuck) > 0 && !errors.As(lwErr, &dl):
		bad("lwtask: Run returned %v, want a deadlock of %v", lwErr, wantStuck)
	case dl != nil:
		var got []string
		for _, info := range dl.Blocked {
			got = append(got, info.Name)
		}
		slices.Sort(got)
		slices.Sort(wantStuck)
		if !slices.Equal(got, wantStuck) {
			bad("lwtask: deadlock of %v, want %v:\n%v", got, wantStuck, lwErr)
		}
	}
	for i, tk := range p.tasks {
		if gor.stuck[i] != p.stuck[i] {
			bad("Go: %s released by quit: %v, want %v", tk.name, gor.stuck[i], p.stuck[i])
		}
	}

	// Each run on its own: nothing lost, made up or duplicated.
	for _, run := range []struct {
		name string
		r    *recorder
	}{{"lwtask", lw}, {"Go", gor}} {
		r := run.r
		for _, f := range r.fails {
			bad("%s: %s", run.name, f)
		}
		for ch := range p.chans {
			sent := sorted(r.sent[ch])
			through := sorted(append(slices.Clone(r.recv[ch]), r.left[ch]...))
			if !slices.Equal(sent, through) {
				bad("%s: channel %d: sent %v, but received %v and left %v", run.name, ch, sent, sorted(r.recv[ch]), r.left[ch])
			}
			if d := dups(sent); d != nil {
				bad("%s: channel %d: values sent twice: %v", run.name, ch, d)
			}
			if slices.ContainsFunc(r.recv[ch], func(v int) bool { return v < 0 }) {
				bad("%s: channel %d: a value sent after the close was received: %v", run.name, ch, r.recv[ch])
			}
			// Closed once by its last producer, unless one is stuck; then
			// seen by every consumer that is not (E leaves before).
			neverClosed := slices.ContainsFunc(p.chans[ch].producers, func(i int) bool { return p.stuck[i] })
			if want := map[bool]int{true: 0, false: 1}[neverClosed]; r.closes[ch] != want {
				bad("%s: channel %d closed %d times, want %d", run.name, ch, r.closes[ch], want)
			}
			for _, i := range p.chans[ch].consumers {
				// A stuck task may be released in Go before it has seen
				// the close of an input: it waits for another anyway.
				if !neverClosed && !p.stuck[i] && !r.sawClose[[2]int{i, ch}] {
					bad("%s: %s did not see channel %d closed", run.name, p.tasks[i].name, ch)
				}
			}
		}
		if got := sorted(r.delivered); !slices.Equal(got, p.delivered) {
			bad("%s: sinks got %v, want %v", run.name, got, p.delivered)
		}
		if p.deadlock {
			c := p.earlyChan
			if !slices.Equal(r.recv[c], p.early) || !slices.Equal(r.left[c], p.left) {
				bad("%s: E got %v and left %v in its channel, want %v and %v", run.name, r.recv[c], r.left[c], p.early, p.left)
			}
		}
	}

	// The two runs against each other: the same values crossed each
	// channel, whatever the order.
	for ch := range p.chans {
		if a, b := sorted(lw.recv[ch]), sorted(gor.recv[ch]); !slices.Equal(a, b) {
			bad("channel %d: lwtask received %v, Go %v", ch, a, b)
		}
		if a, b := sorted(lw.left[ch]), sorted(gor.left[ch]); !slices.Equal(a, b) {
			bad("channel %d: lwtask left %v, Go %v", ch, a, b)
		}
	}
	return strings.Join(problems, "\n"), lw, gor
}

func sorted(s []int) []int {
	s = slices.Clone(s)
	sort.Ints(s)
	return s
}

// dups returns the values that occur more than once in sorted s.
func dups(s []int) []int {
	var d []int
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			d = append(d, s[i])
		}
	}
	return d
}
