package main

// limitsState is the word /readyz gives for the login and refresh limits:
//
//   - "shared": counted in Redis, one budget for the whole fleet;
//   - "fallback": Redis cannot be asked, so this node counts alone (the
//     fleet allows up to N times each limit) until it answers again;
//   - "local": counted by this process by design (the memory store, one
//     process; DynamoDB, where each node counts alone).
//
// A fallback does not make the node unready: logins stay limited, per node.
func limitsState(backend string, fallback map[string]bool) string {
	if backend != "redis" {
		return "local"
	}
	for _, fb := range fallback {
		if fb {
			return "fallback"
		}
	}
	return "shared"
}
