package merkle_test

import (
	"crypto/sha256"
	"fmt"

	"github.com/peersetdb/peerset/pkg/merkle"
)

func item(ts uint64, name string) merkle.Item {
	return merkle.Item{Timestamp: ts, ID: sha256.Sum256([]byte(name))}
}

// Two peers reconcile their sets; the initiator learns what to send and what to fetch.
func Example() {
	alice, bob := merkle.NewTree(), merkle.NewTree()
	for i := range 1000 {
		it := item(1_700_000_000+uint64(i)*60, fmt.Sprint("record ", i))
		alice.Insert(it)
		bob.Insert(it)
	}
	alice.Insert(item(1_700_030_000, "only alice has this"))
	bob.Insert(item(1_700_040_000, "only bob has this"))

	initiator, _ := merkle.NewInitiator(alice, merkle.Options{Granularity: merkle.GranularityHour})
	responder, _ := merkle.NewResponder(bob, merkle.Options{})

	msg, _ := initiator.Initiate()
	for round := 1; ; round++ {
		reply, err := responder.Respond(msg) // in real life: over the network
		if err != nil {
			panic(err)
		}
		next, have, need, done, err := initiator.Reconcile(reply)
		if err != nil {
			panic(err)
		}
		fmt.Printf("round %d: send %d, fetch %d\n", round, len(have), len(need))
		if done {
			break
		}
		msg = next
	}
	for _, r := range initiator.MissingRanges() {
		fmt.Println("differs:", r.Start, "to", r.End)
	}
	// Output:
	// round 1: send 0, fetch 0
	// round 2: send 1, fetch 1
	// differs: 1700028000 to 1700031600
	// differs: 1700038800 to 1700042400
}
