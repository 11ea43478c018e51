//go:build !linux

package bench

import "os"

// maxRSS is not measured off Linux: the driver needs Linux namespaces
// anyway, and the package only has to build everywhere.
func maxRSS(*os.ProcessState) int64 { return 0 }
