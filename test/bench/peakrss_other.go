//go:build !linux

package bench

import "errors"

// PeakRSS needs Linux (ptrace and /proc); the benchmarks run only there.
func PeakRSS(spec Spec) (int64, Sample, error) {
	err := errors.New("bench: peak RSS is measured on Linux only")
	return 0, Sample{Code: -1, Err: err}, err
}
