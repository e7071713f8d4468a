package argocdlua

import (
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// The os library Argo CD gives scripts: only time and date, nothing that
// reads files, runs programs or exits.
var safeOs = map[string]lua.LGFunction{"time": osTime, "date": osDate}

func openSafeOs(l *lua.LState) int {
	l.Push(l.RegisterModule(lua.OsLibName, safeOs))
	return 1
}

func loadSafeOs(l *lua.LState) int {
	l.Push(l.SetFuncs(l.NewTable(), safeOs))
	return 1
}

// osTime is os.time(): the current Unix time, or that of a date table
// {year, month, day, hour (12), min, sec} in local time.
func osTime(l *lua.LState) int {
	if l.GetTop() == 0 {
		l.Push(lua.LNumber(time.Now().Unix()))
		return 1
	}
	t := l.CheckTable(1)
	field := func(k string, def int) int {
		if n, ok := t.RawGetString(k).(lua.LNumber); ok {
			return int(n)
		}
		return def
	}
	d := time.Date(field("year", -1), time.Month(field("month", -1)), field("day", -1), field("hour", 12), field("min", 0), field("sec", 0), 0, time.Local)
	l.Push(lua.LNumber(d.Unix()))
	return 1
}

// osDate is os.date([format [, time]]): a leading "!" means UTC, "*t" a
// table of the fields, otherwise strftime-style %-conversions.
func osDate(l *lua.LState) int {
	t := time.Now()
	format := "%c"
	if l.GetTop() >= 1 {
		format = l.CheckString(1)
	}
	if l.GetTop() >= 2 {
		t = time.Unix(l.CheckInt64(2), 0)
	}
	if f, ok := strings.CutPrefix(format, "!"); ok {
		t, format = t.UTC(), f
	}
	if strings.HasPrefix(format, "*t") {
		tbl := l.NewTable()
		for k, v := range map[string]int{"year": t.Year(), "month": int(t.Month()), "day": t.Day(), "hour": t.Hour(), "min": t.Minute(), "sec": t.Second(), "wday": int(t.Weekday()) + 1, "yday": t.YearDay()} {
			tbl.RawSetString(k, lua.LNumber(v))
		}
		tbl.RawSetString("isdst", lua.LFalse)
		l.Push(tbl)
		return 1
	}
	l.Push(lua.LString(strftime(t, format)))
	return 1
}

// layouts are the Go layouts of the conversions os.date knows.
var layouts = map[byte]string{
	'a': "Mon", 'A': "Monday", 'b': "Jan", 'B': "January", 'c': "Mon Jan  2 15:04:05 2006",
	'd': "02", 'F': "2006-01-02", 'H': "15", 'I': "03", 'm': "01", 'M': "04", 'p': "PM",
	'S': "05", 'T': "15:04:05", 'x': "01/02/06", 'X': "15:04:05", 'y': "06", 'Y': "2006",
	'z': "-0700", 'Z': "MST",
}

func strftime(t time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		switch conv := format[i]; {
		case conv == '%':
			b.WriteByte('%')
		case conv == 'w':
			b.WriteString(strconv.Itoa(int(t.Weekday())))
		case conv == 'j':
			b.WriteString(strconv.Itoa(t.YearDay()))
		case layouts[conv] != "":
			b.WriteString(t.Format(layouts[conv]))
		default:
			b.WriteByte('%')
			b.WriteByte(conv)
		}
	}
	return b.String()
}
