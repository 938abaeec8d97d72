package main

import (
	"encoding/json"
	"testing"
)

func TestFilterSpecDropsCapsOutsideTheBoundingSet(t *testing.T) {
	var spec map[string]any
	json.Unmarshal([]byte(`{"process":{"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE"],"effective":["CAP_SYS_RESOURCE"]}}}`), &spec)
	allowed := bounding(0x000001fffeffffff) // this machine: everything but CAP_SYS_RESOURCE (24)
	if allowed["CAP_SYS_RESOURCE"] || !allowed["CAP_CHOWN"] || !allowed["CAP_SYS_TIME"] {
		t.Fatalf("bounding set decoded wrong: %v", allowed)
	}
	if !filterSpec(spec, allowed) {
		t.Fatal("nothing changed")
	}
	out, _ := json.Marshal(spec)
	if string(out) != `{"process":{"capabilities":{"bounding":["CAP_CHOWN"],"effective":[]}}}` {
		t.Fatalf("got %s", out)
	}
	if filterSpec(spec, allowed) {
		t.Fatal("a second pass changed something")
	}
}

func TestBundleDir(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
		ok   bool
	}{
		{[]string{"--root", "/r", "create", "--bundle", "/b", "id"}, "/b", true},
		{[]string{"run", "-b", "/x", "id"}, "/x", true},
		{[]string{"create", "--bundle=/y", "id"}, "/y", true},
		{[]string{"state", "id"}, "", false},
	} {
		got, ok := bundleDir(c.args)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%v: %q %v", c.args, got, ok)
		}
	}
}
