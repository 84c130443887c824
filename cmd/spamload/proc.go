package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: USER_HZ, which
// Linux fixes at 100 for user space whatever the kernel's tick.
const userHZ = 100

type cpuTimes struct{ user, sys time.Duration }

func (c cpuTimes) total() time.Duration { return c.user + c.sys }

// selfCPU returns this process's CPU time so far.
func selfCPU() cpuTimes {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return cpuTimes{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
}

// machineCPU returns the CPU time all processes have used so far, from the
// first line of /proc/stat (user, nice, system, irq, softirq and steal;
// not idle and iowait), or zero if it cannot be read.
func machineCPU() cpuTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return cpuTimes{}
	}
	var ticks [8]int64
	for i := range ticks {
		ticks[i], _ = strconv.ParseInt(string(f[i+1]), 10, 64)
	}
	tick := time.Second / userHZ
	user := ticks[0] + ticks[1]                      // user, nice
	sys := ticks[2] + ticks[5] + ticks[6] + ticks[7] // system, irq, softirq, steal
	return cpuTimes{time.Duration(user) * tick, time.Duration(sys) * tick}
}

// readCPU returns the user and system CPU time of every thread of process
// pid so far, from /proc/PID/stat.
func readCPU(pid int) (cpuTimes, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTimes{}, err
	}
	// The command name, in parentheses, may hold spaces: count the fields
	// after it. utime and stime are fields 14 and 15, the 12th and 13th
	// after the name.
	i := bytes.LastIndexByte(b, ')')
	fields := bytes.Fields(b[i+1:])
	if i < 0 || len(fields) < 13 {
		return cpuTimes{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	user, err1 := strconv.ParseInt(string(fields[11]), 10, 64)
	sys, err2 := strconv.ParseInt(string(fields[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return cpuTimes{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	tick := time.Second / userHZ
	return cpuTimes{time.Duration(user) * tick, time.Duration(sys) * tick}, nil
}

// readRSS returns the resident memory of process pid, in KB, from
// /proc/PID/status.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseInt(string(f[0]), 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}
