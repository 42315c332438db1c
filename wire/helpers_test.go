package wire

import (
	"math"
	"math/big"
	"reflect"
	"time"
)

// ednEqual is Clojure's = for the decoded types: NaN equals NaN (so round
// trips of ##NaN can be checked), big ints compare by value and maps may
// have NaN keys that Go's map lookup cannot find.
func ednEqual(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && (x == nil) == (y == nil) && (x == nil || x.Cmp(y) == 0)
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !ednEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[any]any:
		y, ok := b.(map[any]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, found := lookup(y, k)
			if !found || !ednEqual(v, w) {
				return false
			}
		}
		return true
	case map[any]bool:
		y, ok := b.(map[any]bool)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if _, found := lookupSet(y, k); !found {
				return false
			}
		}
		return true
	case Tagged:
		y, ok := b.(Tagged)
		return ok && x.Tag == y.Tag && ednEqual(x.Value, y.Value)
	case Event:
		y, ok := b.(Event)
		return ok && x.ID == y.ID && x.HasData == y.HasData && ednEqual(x.Data, y.Data)
	case Frame:
		y, ok := b.(Frame)
		if !ok || x.Kind != y.Kind || x.CallbackID != y.CallbackID || len(x.Batch) != len(y.Batch) {
			return false
		}
		if !ednEqual(x.Event, y.Event) || !ednEqual(x.Reply, y.Reply) {
			return false
		}
		for i := range x.Batch {
			if !ednEqual(x.Batch[i], y.Batch[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func lookup(m map[any]any, k any) (any, bool) {
	if v, ok := m[k]; ok {
		return v, true
	}
	for mk, v := range m {
		if ednEqual(mk, k) {
			return v, true
		}
	}
	return nil, false
}

func lookupSet(m map[any]bool, k any) (bool, bool) {
	if _, ok := m[k]; ok {
		return true, true
	}
	for mk := range m {
		if ednEqual(mk, k) {
			return true, true
		}
	}
	return false, false
}
