// Command smoke is the smoke test of the end-to-end job-check scenario: it
// sends -requests GET requests to $RAMP_CANARY_URL (the canary Service Ramp
// names in a job check's environment) and exits 0 only if every one is
// answered 2xx. It waits up to -wait for the first answer, since the
// canary's process may start just after its pod is Ready.
//
//	smoke -requests 50
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	requests := flag.Int("requests", 50, "requests to send")
	wait := flag.Duration("wait", 10*time.Second, "how long to wait for the first answer")
	flag.Parse()
	os.Exit(run(os.Getenv("RAMP_CANARY_URL"), *requests, *wait))
}

func run(url string, requests int, wait time.Duration) int {
	if url == "" {
		fmt.Println("smoke: RAMP_CANARY_URL is not set")
		return 2
	}
	client := &http.Client{Timeout: 5 * time.Second}
	get := func() (int, string, error) {
		resp, err := client.Get(url + "/")
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Version"), nil
	}
	deadline := time.Now().Add(wait)
	for {
		_, _, err := get()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			fmt.Printf("smoke: %s not answering after %s: %v\n", url, wait, err)
			return 1
		}
		time.Sleep(100 * time.Millisecond)
	}
	failed, versions := 0, map[string]int{}
	for range requests {
		code, version, err := get()
		if err != nil || code < 200 || code > 299 {
			failed++
			continue
		}
		versions[version]++
	}
	fmt.Printf("smoke: %s: %d/%d answered 2xx, %d failed (versions %v)\n", url, requests-failed, requests, failed, versions)
	if failed > 0 {
		return 1
	}
	return 0
}
