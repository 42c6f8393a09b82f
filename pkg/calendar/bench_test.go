package calendar

import (
	"testing"
	"time"
)

func BenchmarkBusiness(b *testing.B) {
	c := mustNew(b, defaultConfig(b))
	t1 := time.Date(2024, 3, 4, 7, 13, 0, 0, time.UTC)
	for _, bb := range []struct {
		name string
		span time.Duration
	}{
		{"1day", 24 * time.Hour},
		{"1year", 365 * 24 * time.Hour},
		{"10years", 3652 * 24 * time.Hour},
	} {
		t2 := t1.Add(bb.span)
		c.Business(t1, t2) // build the year tables outside the loop
		b.Run(bb.name, func(b *testing.B) {
			var got time.Duration
			for b.Loop() {
				got = c.Business(t1, t2)
			}
			if got <= 0 || got > bb.span {
				b.Fatalf("Business = %v", got)
			}
		})
	}
}

func BenchmarkNew(b *testing.B) {
	cfg := defaultConfig(b)
	h, err := LoadHolidayFile("testdata/ru2024.csv")
	if err != nil {
		b.Fatal(err)
	}
	cfg.Holidays = []Holidays{h}
	for b.Loop() {
		c, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.year(2024) // the first use of a year builds its table
	}
}
