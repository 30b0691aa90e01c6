package logs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"www.velocidex.com/golang/evtx"
)

func TestScratch(t *testing.T) {
	files, _ := filepath.Glob("testdata/evtx/*.evtx")
	for _, f := range files {
		fd, _ := os.Open(f)
		chunks, err := evtx.GetChunks(fd)
		fmt.Println("FILE", f, len(chunks), err)
		for _, c := range chunks {
			fmt.Printf("chunk %+v\n", c.Header)
			recs, err := c.Parse(0)
			fmt.Println(len(recs), err)
			for _, r := range recs {
				b, _ := json.Marshal(r.Event)
				fmt.Println(r.Header.RecordID, string(b))
			}
		}
	}
}
