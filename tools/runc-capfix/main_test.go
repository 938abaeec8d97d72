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

func TestFilterProcessFile(t *testing.T) {
	var proc map[string]any
	json.Unmarshal([]byte(`{"args":["cat"],"capabilities":{"bounding":["CAP_SYS_RESOURCE","CAP_KILL"]}}`), &proc)
	if !filterSpec(proc, bounding(0x000001fffeffffff)) {
		t.Fatal("process file not filtered")
	}
	out, _ := json.Marshal(proc)
	if string(out) != `{"args":["cat"],"capabilities":{"bounding":["CAP_KILL"]}}` {
		t.Fatalf("got %s", out)
	}
}

func TestSpecFile(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
		ok   bool
	}{
		{[]string{"--root", "/r", "create", "--bundle", "/b", "id"}, "/b/config.json", true},
		{[]string{"run", "-b", "/x", "id"}, "/x/config.json", true},
		{[]string{"create", "--bundle=/y", "id"}, "/y/config.json", true},
		{[]string{"--root", "/r", "exec", "--process", "/tmp/p.json", "--detach", "id"}, "/tmp/p.json", true},
		{[]string{"exec", "-p", "/tmp/q.json", "id"}, "/tmp/q.json", true},
		{[]string{"state", "id"}, "", false},
	} {
		got, ok := specFile(c.args)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%v: %q %v", c.args, got, ok)
		}
	}
}
