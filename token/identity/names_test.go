package identity

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseNames(t *testing.T) {
	valid := strings.Join(Names(), ", ")
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr string
	}{
		{name: "as given", in: []string{"workload", "managed", "cli"}, want: []string{"workload", "managed", "cli"}},
		{name: "case and spaces", in: []string{" CLI ", "Managed\t"}, want: []string{"cli", "managed"}},
		{name: "all", in: Names(), want: Names()},
		{name: "nil", in: nil, wantErr: "no identity source is named: name one or more of " + valid},
		{name: "empty", in: []string{}, wantErr: "no identity source is named"},
		{name: "empty name", in: []string{"managed", " "}, wantErr: "an identity source name is empty: valid sources are " + valid},
		{name: "unknown", in: []string{"managed", "msi"}, wantErr: `unknown identity source "msi": valid sources are ` + valid},
		{name: "unknown keeps the user's spelling", in: []string{" IMDS "}, wantErr: `unknown identity source "IMDS"`},
		{name: "control characters", in: []string{"bad\x1b[31mname"}, wantErr: `unknown identity source "bad?[31mname"`},
		{name: "twice", in: []string{"cli", "managed", "CLI"}, wantErr: `identity source "cli" is listed twice: name each source once`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			got, err := ParseNames(tc.in)
			if !slices.Equal(in, tc.in) {
				t.Errorf("the input was changed to %q", tc.in)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("ParseNames(%q) = %q, %v; want error %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseNames(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}
