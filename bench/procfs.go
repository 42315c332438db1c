package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// residentBytes is a process's resident set size (VmRSS) from /proc, or 0
// where there is no /proc (not Linux) or the process is gone. /stats' total
// counts every page the Go runtime mapped, including pages it has handed back
// to the OS; RSS is what the machine actually spends.
func residentBytes(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// clockTick is the unit of /proc/PID/stat's times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuTime is the CPU a process has used so far (user + system), from
// /proc/PID/stat ("self" for this process); 0 where there is no /proc.
func cpuTime(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: fields follow the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(u+s) * clockTick
}

// cpuMeter measures how many cores the gateway (when it is this benchmark's
// child) and this process used while it ran: on a small machine it tells a
// gateway-bound run from a client-bound one. It can be stopped and started
// again, to leave out phases that measure something else (the echo floor).
type cpuMeter struct {
	pid            int
	gw, self, wall time.Duration // accumulated
	gw0, self0     time.Duration // at the last start
	t0             time.Time
}

func newCPUMeter(g *Gateway) *cpuMeter { return &cpuMeter{pid: g.Pid} }

// startCPU returns a running meter.
func startCPU(g *Gateway) *cpuMeter {
	m := newCPUMeter(g)
	m.start()
	return m
}

func (m *cpuMeter) gateway() time.Duration {
	if m.pid <= 0 {
		return 0
	}
	return cpuTime(strconv.Itoa(m.pid))
}

func (m *cpuMeter) start() {
	m.gw0, m.self0, m.t0 = m.gateway(), cpuTime("self"), time.Now()
}

func (m *cpuMeter) stop() {
	m.wall += time.Since(m.t0)
	m.gw += m.gateway() - m.gw0
	m.self += cpuTime("self") - m.self0
	m.t0 = time.Time{}
}

// figures stops the meter and reports the cores used while it ran.
func (m *cpuMeter) figures() []Figure {
	if !m.t0.IsZero() {
		m.stop()
	}
	wall := m.wall.Seconds()
	if wall <= 0 || cpuTime("self") == 0 {
		return nil
	}
	var out []Figure
	if m.pid > 0 && m.gateway() > 0 {
		out = append(out, Figure{Key: "gateway-cpu-cores", Label: "gateway CPU", Value: round(m.gw.Seconds()/wall, 2), Unit: "cores"})
	}
	return append(out, Figure{Key: "bench-cpu-cores", Label: "benchmark CPU", Value: round(m.self.Seconds()/wall, 2), Unit: "cores"})
}
