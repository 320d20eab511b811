package identitycenter

import (
	"strconv"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "PT1H", want: time.Hour},
		{in: "PT12H", want: 12 * time.Hour},
		{in: "PT2H30M", want: 150 * time.Minute},
		{in: "PT15M", want: 15 * time.Minute},
		{in: "PT900S", want: 900 * time.Second},
		{in: "PT1H1M1S", want: time.Hour + time.Minute + time.Second},
		{in: "P1D", want: 24 * time.Hour},
		{in: "P1DT2H", want: 26 * time.Hour},
		{in: "PT0S", want: 0},
		{in: "", wantErr: true},
		{in: "P", wantErr: true},
		{in: "PT", wantErr: true},
		{in: "1H", wantErr: true},
		{in: "PT1", wantErr: true},
		{in: "PTH", wantErr: true},
		{in: "PT1M1H", wantErr: true},
		{in: "PT1H1H", wantErr: true},
		{in: "P1H", wantErr: true},
		{in: "PT1D", wantErr: true},
		{in: "P1W", wantErr: true},
		{in: "P1Y", wantErr: true},
		{in: "P1DT", wantErr: true},
		{in: "PTT1H", wantErr: true},
		{in: "PT1.5H", wantErr: true},
		{in: "PT-1H", wantErr: true},
		{in: "pt1h", wantErr: true},
		{in: "PT9999999999999999999H", wantErr: true},
		{in: "PT2562048H", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseDuration(%q) = %s, %v; want %s, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"PT1H", "PT2H30M", "P1DT2H3M4S", "PT", "P1W", "PT99999999999H"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDuration(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("parseDuration(%q) = %s, negative", s, d)
		}
		// The canonical spelling of d parses to d.
		canon := "PT" + strconv.FormatInt(int64(d/time.Second), 10) + "S"
		if back, err := parseDuration(canon); err != nil || back != d.Truncate(time.Second) {
			t.Fatalf("parseDuration(%q) = %s, %v; want %s", canon, back, err, d)
		}
	})
}
