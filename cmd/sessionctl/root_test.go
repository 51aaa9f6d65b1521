package main

import "testing"

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:hunter2@h:6379/0":  "redis://:xxxxx@h:6379/0",
		"redis://u:hunter2@h:6379/0": "redis://u:xxxxx@h:6379/0",
		"redis://h:6379/0":           "redis://h:6379/0",
		"file:/etc/keyset.json":      "file:/etc/keyset.json",
		"x://a:hunter2@b%zz":         "x://a:xxxxx@b%zz",
		"redis-sentinel://u:hunter2@s1,s2:26380/mymaster?sentinel_password=hunter2": "redis-sentinel://u:xxxxx@s1,s2:26380/mymaster?sentinel_password=xxxxx",
		"redis-cluster://:hunter2@h1:7000,h2:7001":                                  "redis-cluster://:xxxxx@h1:7000,h2:7001",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
