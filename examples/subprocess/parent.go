package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"

	"github.com/lwtask/lwtask"
)

// A job is one helper's work, and what became of it.
type job struct {
	name  string
	start int // the setup data: where the helper's numbers start
	ids   int

	answers int // lines read
	wrong   int // answers that were not the expected ones
	most    int // the most steps so far
	errs    []error
}

// runHelpers runs a job per helper, with the parent's side of each as tasks
// of one scheduler, and returns them once every helper has exited.
// newHelper makes the command that runs a helper.
func runHelpers(newHelper func() *exec.Cmd, helpers, ids int, interesting io.Writer) ([]*job, error) {
	rt, err := lwtask.New()
	if err != nil {
		return nil, err
	}
	defer rt.Close()
	var jobs []*job
	for i := range helpers {
		j := &job{name: fmt.Sprint("helper ", i+1), start: 100000*i + 1, ids: ids}
		jobs = append(jobs, j)
		rt.Go(j.name, func(t *lwtask.Task) { j.run(t, rt, newHelper(), interesting) })
	}
	return jobs, rt.Run()
}

// run starts the helper, feeds it from a task of its own, and reads its
// answers.
func (j *job) run(t *lwtask.Task, rt *lwtask.Runtime, cmd *exec.Cmd, interesting io.Writer) {
	p, err := rt.StartCommand(cmd)
	if err != nil {
		j.fail(err)
		return
	}
	rt.Go(j.name+" input", func(t *lwtask.Task) {
		j.fail(sendInputs(t, p.Stdin, fmt.Sprintf("start %d\n", j.start), j.ids))
	})
	j.fail(j.readOutput(t, p.Stdout, interesting))
	// Should reading stop early, closing the pipe makes the helper's next
	// write fail, so it exits rather than wait for a reader forever.
	p.Stdout.Close()
	j.fail(p.Wait(t))
}

func (j *job) fail(err error) {
	if err != nil {
		j.errs = append(j.errs, err)
	}
}

// sendInputs is the seed's send_inputs: the setup data, each id, and the
// end mark. A write to a full pipe parks this task until the helper has
// read some, and meanwhile the other tasks run, among them the one that
// reads this helper's answers.
func sendInputs(t *lwtask.Task, w *lwtask.Conn, setup string, n int) error {
	defer w.Close()
	if _, err := w.WriteString(t, setup); err != nil {
		return err
	}
	var id [2]byte
	for i := range n {
		binary.BigEndian.PutUint16(id[:], uint16(i))
		if _, err := w.Write(t, id[:]); err != nil {
			return err
		}
	}
	binary.BigEndian.PutUint16(id[:], endOfIds)
	if _, err := w.Write(t, id[:]); err != nil {
		return err
	}
	return w.Flush(t) // Write gathers; Close would drop what is left
}

// readOutput is the seed's read_output: for each line, check it, and print
// it if it is interesting. ReadLine parks this task until a whole line has
// arrived.
func (j *job) readOutput(t *lwtask.Task, r *lwtask.Conn, interesting io.Writer) error {
	for {
		line, err := r.ReadLine(t)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		id, steps, err := parseAnswer(line)
		if err != nil {
			return err
		}
		if id != j.answers || steps != collatzSteps(j.start+id) {
			j.wrong++
		}
		j.answers++
		if steps > j.most {
			j.most = steps
			if interesting != nil {
				fmt.Fprintf(interesting, "%s: %d takes %d steps, the most so far\n", j.name, j.start+id, steps)
			}
		}
	}
	if j.answers != j.ids {
		return fmt.Errorf("%d answers to %d ids", j.answers, j.ids)
	}
	return nil
}

// parseAnswer splits a helper's line, "id steps".
func parseAnswer(line []byte) (id, steps int, err error) {
	for i, c := range line {
		if c == ' ' {
			id, err1 := strconv.Atoi(string(line[:i]))
			steps, err2 := strconv.Atoi(string(line[i+1:]))
			if err := errors.Join(err1, err2); err != nil {
				return 0, 0, fmt.Errorf("bad answer %q: %w", line, err)
			}
			return id, steps, nil
		}
	}
	return 0, 0, fmt.Errorf("bad answer %q", line)
}

// summarize prints a line per helper and a total, and reports whether
// every helper answered every id rightly.
func summarize(jobs []*job, out io.Writer) bool {
	answers, ok := 0, true
	for _, j := range jobs {
		answers += j.answers
		switch {
		case len(j.errs) > 0:
			fmt.Fprintf(out, "%s: %d answers, %d wrong: %v\n", j.name, j.answers, j.wrong, errors.Join(j.errs...))
		case j.wrong > 0:
			fmt.Fprintf(out, "%s: %d answers, %d wrong\n", j.name, j.answers, j.wrong)
		default:
			fmt.Fprintf(out, "%s: %d answers, all right; the most steps: %d\n", j.name, j.answers, j.most)
			continue
		}
		ok = false
	}
	verdict := "all right"
	if !ok {
		verdict = "with errors"
	}
	fmt.Fprintf(out, "%d helpers answered %d ids, %s\n", len(jobs), answers, verdict)
	return ok
}
