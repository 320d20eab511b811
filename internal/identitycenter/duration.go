package identitycenter

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// parseDuration parses the ISO-8601 durations AWS uses for SessionDuration:
// "P" [n "D"] ["T" [n "H"] [n "M"] [n "S"]] with non-negative integers and
// at least one part, for example "PT1H", "PT2H30M", "PT900S". Years, months
// and weeks are refused: their length is not fixed.
func parseDuration(s string) (time.Duration, error) {
	bad := func(why string) (time.Duration, error) {
		return 0, fmt.Errorf("invalid ISO-8601 duration %q (want a form like PT1H or PT2H30M): %s", s, why)
	}
	if len(s) < 3 || s[0] != 'P' {
		return bad("must start with P and have at least one part")
	}
	units := map[byte]time.Duration{'D': 24 * time.Hour, 'H': time.Hour, 'M': time.Minute, 'S': time.Second}
	order := "DHMS" // each unit at most once, in this order; D before T, the rest after
	var total time.Duration
	inTime, parts, last := false, 0, -1
	for i := 1; i < len(s); {
		if s[i] == 'T' {
			if inTime || i == len(s)-1 {
				return bad("misplaced T")
			}
			inTime = true
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i || j == len(s) {
			return bad("each part is digits then one of D, H, M, S")
		}
		n, err := strconv.ParseInt(s[i:j], 10, 64)
		if err != nil {
			return bad("number out of range")
		}
		unit := s[j]
		pos := -1
		for k := range len(order) {
			if order[k] == unit {
				pos = k
			}
		}
		switch {
		case pos < 0:
			return bad(fmt.Sprintf("unit %q is not D, H, M or S", unit))
		case pos <= last:
			return bad("units must appear once each, in the order D, H, M, S")
		case (unit == 'D') == inTime:
			return bad("D goes before T; H, M and S after it")
		}
		if n > int64(math.MaxInt64/units[unit]) || total > math.MaxInt64-time.Duration(n)*units[unit] {
			return bad("too long")
		}
		total += time.Duration(n) * units[unit]
		last, parts = pos, parts+1
		i = j + 1
	}
	if parts == 0 {
		return bad("no parts")
	}
	return total, nil
}
