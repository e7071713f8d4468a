package argocdlua

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// scriptTimeout is how long Argo CD lets one script run.
const scriptTimeout = time.Second

// run executes script with obj as the global obj and returns the JSON of the
// value it returned, as Argo CD does: a fresh state without the standard
// libraries (Argo CD's default for scripts from argocd-cm), then package,
// base, table and a safe os, also preloaded for require("os").
func run(obj map[string]any, script string) ([]byte, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, openSafeOs},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return nil, fmt.Errorf("open %s library: %w", lib.name, err)
		}
	}
	l.PreloadModule(lua.OsLibName, loadSafeOs)
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return nil, err
	}
	ret := l.Get(-1)
	if ret.Type() != lua.LTTable {
		return nil, fmt.Errorf("expect table output from Lua script, not %s", ret.Type())
	}
	v, err := fromLua(ret, map[*lua.LTable]bool{})
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// toLua turns a decoded JSON object (numbers as int64 or float64, as
// unstructured objects hold them) into Lua values: maps and slices become
// tables, nil becomes nil (so the key is absent in Lua).
func toLua(l *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case bool:
		return lua.LBool(x)
	case string:
		return lua.LString(x)
	case json.Number:
		return lua.LString(x)
	case float64:
		return lua.LNumber(x)
	case int:
		return lua.LNumber(x)
	case int32:
		return lua.LNumber(x)
	case int64:
		return lua.LNumber(x)
	case []any:
		t := l.CreateTable(len(x), 0)
		for _, e := range x {
			t.Append(toLua(l, e))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetH(lua.LString(k), toLua(l, e))
		}
		return t
	}
	return lua.LNil
}

var (
	errNested      = errors.New("cannot encode recursively nested tables to JSON")
	errSparseArray = errors.New("cannot encode sparse array")
	errMixedKeys   = errors.New("cannot encode mixed or invalid key types")
)

// fromLua turns a Lua value into what encodes as the JSON Argo CD reads
// back (its gopher-json encoding): an empty table is an empty array, a
// table whose keys are 1..n an array, one with string keys an object;
// anything else, or a table met twice, is an error.
func fromLua(v lua.LValue, seen map[*lua.LTable]bool) (any, error) {
	switch x := v.(type) {
	case lua.LBool:
		return bool(x), nil
	case lua.LNumber:
		return float64(x), nil
	case lua.LString:
		return string(x), nil
	case *lua.LNilType:
		return nil, nil
	case *lua.LTable:
		if seen[x] {
			return nil, errNested
		}
		seen[x] = true
		key, val := x.Next(lua.LNil)
		switch key.Type() {
		case lua.LTNil:
			return []any{}, nil
		case lua.LTNumber:
			var arr []any
			for want := lua.LNumber(1); key != lua.LNil; want++ {
				if n, ok := key.(lua.LNumber); !ok || n != want {
					if !ok {
						return nil, errMixedKeys
					}
					return nil, errSparseArray
				}
				e, err := fromLua(val, seen)
				if err != nil {
					return nil, err
				}
				arr = append(arr, e)
				key, val = x.Next(key)
			}
			return arr, nil
		case lua.LTString:
			m := map[string]any{}
			for key != lua.LNil {
				if key.Type() != lua.LTString {
					return nil, errMixedKeys
				}
				e, err := fromLua(val, seen)
				if err != nil {
					return nil, err
				}
				m[key.String()] = e
				key, val = x.Next(key)
			}
			return m, nil
		}
		return nil, errMixedKeys
	}
	return nil, fmt.Errorf("cannot encode %s to JSON", v.Type())
}

// restoreEmptyMaps undoes what the JSON encoding does to a map that was
// empty: Lua cannot tell an empty table from an empty array, so where the
// live object had a map and the action returned an empty array, the live
// map is kept (as Argo CD does before it diffs).
func restoreEmptyMaps(updated, live map[string]any) {
	for k, old := range live {
		switch nv := updated[k].(type) {
		case map[string]any:
			if om, ok := old.(map[string]any); ok {
				restoreEmptyMaps(nv, om)
			}
		case []any:
			switch ov := old.(type) {
			case map[string]any:
				if len(nv) == 0 {
					updated[k] = ov
				}
			case []any:
				restoreEmptyMapsIn(nv, ov)
			}
		}
	}
}

func restoreEmptyMapsIn(updated, live []any) {
	for i := range updated {
		if i >= len(live) {
			return
		}
		switch nv := updated[i].(type) {
		case map[string]any:
			if om, ok := live[i].(map[string]any); ok {
				restoreEmptyMaps(nv, om)
			}
		case []any:
			if ov, ok := live[i].([]any); ok {
				restoreEmptyMapsIn(nv, ov)
			}
		}
	}
}
