package credhelper

import (
	"testing"
	"time"
)

func TestKubeletCacheDuration(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name      string
		refreshAt time.Time
		want      string
	}{
		{"hours ahead", now.Add(2*time.Hour + 55*time.Minute + 300*time.Millisecond), "2h55m0s"},
		{"no known expiry: not cached by the kubelet", time.Time{}, "0s"},
		{"already due", now.Add(-time.Minute), "0s"},
		{"less than a second", now.Add(500 * time.Millisecond), "0s"},
	} {
		if got := kubeletCacheDuration(now, tt.refreshAt); got != tt.want {
			t.Errorf("%s: kubeletCacheDuration = %q, want %q", tt.name, got, tt.want)
		}
	}
}
