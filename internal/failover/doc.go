// Package failover holds no code: its tests drive refresh traffic through
// auth managers on Redis Cluster and Sentinel while a master is killed, and
// measure the gap and the acknowledged rotations lost. They start real
// servers for about 20s each, so they run only with SESAME_FAILOVER=1.
package failover
