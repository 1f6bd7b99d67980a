package main

import (
	"fmt"
	"testing"

	"github.com/peersetdb/peerset/pkg/record"
)

// BenchmarkMarshalRecords is the Go side of query(): 1000 records to JSON.
func BenchmarkMarshalRecords(b *testing.B) {
	sk, err := record.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	t := &testing.T{}
	rs := make([]*record.Record, 1000)
	for i := range rs {
		rs[i] = newRecord(t, sk, record.Draft{Text: fmt.Sprintf("record number %d with some text to make it realistic", i), Geo: &record.Geo{Lat: 1, Lon: 2}})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := marshalRecords(rs); err != nil {
			b.Fatal(err)
		}
	}
}
