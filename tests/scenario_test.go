package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/domain"
)

// scenarioDirs are the directories whose scenarios must produce exactly their
// expect block: the published examples and this project's own.
var scenarioDirs = []string{"../../shared/scenarios/public", "scenarios"}

func runScenario(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"scenario", "run"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

func TestScenariosMatchTheirExpectations(t *testing.T) {
	var files []string
	for _, dir := range scenarioDirs {
		found, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, found...)
	}
	if len(files) < 3 {
		t.Fatalf("found only %d scenario files in %v", len(files), scenarioDirs)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var sc struct {
				Steps []struct {
					On string `json:"on"`
					At string `json:"at"`
				} `json:"steps"`
				Expect json.RawMessage `json:"expect"`
			}
			if err := json.Unmarshal(raw, &sc); err != nil {
				t.Fatal(err)
			}
			if sc.Expect == nil {
				t.Skip("no expect block")
			}
			var want struct {
				AsOf string `json:"as_of"`
			}
			json.Unmarshal(sc.Expect, &want)
			args := []string{file}
			// The default as-of is the last step's date; pass it only when
			// the expectation is for another day, so the default is tested too.
			if last := sc.Steps[len(sc.Steps)-1].On; last != want.AsOf {
				args = append(args, "--as-of", want.AsOf)
			}
			out, errOut, code := runScenario(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var got, exp any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			json.Unmarshal(sc.Expect, &exp)
			if !reflect.DeepEqual(got, exp) {
				g, _ := json.MarshalIndent(got, "", " ")
				e, _ := json.MarshalIndent(exp, "", " ")
				t.Fatalf("clocks differ\n--- got\n%s\n--- want\n%s", g, e)
			}
		})
	}
}

// TestOwnScenariosCiteTheirProvisions keeps this project's scenarios tied to
// the law they state: each names the provisions it shows.
func TestOwnScenariosCiteTheirProvisions(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("scenarios", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var sc struct {
			Cites  []string        `json:"cites"`
			Expect json.RawMessage `json:"expect"`
		}
		if err := json.Unmarshal(raw, &sc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(sc.Cites) == 0 || sc.Expect == nil {
			t.Errorf("%s: a scenario of this project cites its provisions and states its expected clocks", file)
		}
	}
}

// TestEveryStepHasAScenario holds the catalog to the scenarios: each command
// is sent by at least one scenario file (a scenario's rulebook and schools
// are its adopt_rulebook and record_school_closure), so a statutory step
// cannot be added without the scenario that shows it.
func TestEveryStepHasAScenario(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("scenarios", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	public, _ := filepath.Glob(filepath.Join("..", "..", "shared", "scenarios", "public", "*.json"))
	sent := map[string]bool{domain.CommandAdoptRulebook: true}
	for _, file := range append(files, public...) {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var sc struct {
			Schools []json.RawMessage `json:"schools"`
			Steps   []struct {
				Command string `json:"command"`
			} `json:"steps"`
		}
		if err := json.Unmarshal(raw, &sc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(sc.Schools) > 0 {
			sent[domain.CommandRecordSchoolClosure] = true
		}
		for _, s := range sc.Steps {
			sent[s.Command] = true
		}
	}
	for _, spec := range domain.Commands() {
		if !sent[spec.Name] {
			t.Errorf("no scenario sends %s: add one to tests/scenarios", spec.Name)
		}
	}
}

func writeScenario(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestScenarioRejectedStepFailsNamingIt(t *testing.T) {
	p := writeScenario(t, `{"name":"plan before decision","la":"E09000001","steps":[
		{"on":"2024-03-01","case":"c1","command":"receive_request","data":{"requester":"parent","birth_date":"2015-05-01"}},
		{"on":"2024-04-01","case":"c1","command":"issue_final_plan","data":{"school":"S1"}}]}`)
	out, errOut, code := runScenario(t, p)
	if code == 0 {
		t.Fatalf("a rejected step exited 0: %s", out)
	}
	var problem map[string]any
	if err := json.Unmarshal([]byte(errOut), &problem); err != nil {
		t.Fatalf("stderr is not a problem object: %q", errOut)
	}
	if problem["step"] != float64(1) || !strings.Contains(problem["detail"].(string), "issue_final_plan") {
		t.Fatalf("problem %v does not name step 1", problem)
	}
	if out != "" {
		t.Fatalf("a failed run printed clocks: %s", out)
	}
}

func TestScenarioExpectedErrorsLetTheRunGoOn(t *testing.T) {
	p := writeScenario(t, `{"la":"E09000001","steps":[
		{"on":"2024-03-01","case":"c1","command":"receive_request","data":{"requester":"parent","birth_date":"2015-05-01"}},
		{"on":"2024-03-02","case":"c1","command":"issue_final_plan","data":{"school":"S1"},"expect_error":true},
		{"on":"2024-03-03","case":"c1","command":"no_such_command","expect_error":true},
		{"on":"2024-04-01","case":"c1","command":"decide_to_assess"},
		{"on":"2024-04-02","case":"c1","command":"decide_to_assess","expect_error":true}]}`)
	out, errOut, code := runScenario(t, p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `"stopped": "2024-04-01"`) {
		t.Fatalf("the decision after the rejected steps is missing: %s", out)
	}
	t.Run("an accepted step marked expect_error fails the run", func(t *testing.T) {
		p := writeScenario(t, `{"la":"E09000001","steps":[
			{"on":"2024-03-01","case":"c1","command":"receive_request","data":{"requester":"parent","birth_date":"2015-05-01"},"expect_error":true}]}`)
		if _, errOut, code := runScenario(t, p); code == 0 || !strings.Contains(errOut, `"step":0`) {
			t.Fatalf("exit %d, stderr %s", code, errOut)
		}
	})
}

func TestScenarioAsOfLeavesOutLaterSteps(t *testing.T) {
	out, errOut, code := runScenario(t, "../../shared/scenarios/public/assessment_on_time.json", "--as-of", "2024-04-30")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got struct {
		AsOf   string           `json:"as_of"`
		Clocks []map[string]any `json:"clocks"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.AsOf != "2024-04-30" || len(got.Clocks) != 4 {
		t.Fatalf("as of 30 April: %s", out)
	}
	for _, c := range got.Clocks {
		if c["clock"] == "advice" && (c["status"] != "running" || c["stopped"] != nil) {
			t.Fatalf("advice received in May shows on 30 April: %v", c)
		}
	}
}

func TestScenarioBadInputIsAClearError(t *testing.T) {
	cases := map[string]string{
		"unknown rulebook":    `{"la":"E09000001","rulebook":"england-1066","steps":[{"on":"2024-03-01","case":"c1","command":"receive_request"}]}`,
		"step without a date": `{"la":"E09000001","steps":[{"case":"c1","command":"receive_request"}]}`,
		"not JSON":            `{"la":`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			_, errOut, code := runScenario(t, writeScenario(t, body))
			if code == 0 || !strings.Contains(errOut, `"detail"`) {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
		})
	}
	if _, _, code := runScenario(t, "/no/such/file.json"); code == 0 {
		t.Fatal("a missing file exited 0")
	}
	if _, _, code := runScenario(t, "../../shared/scenarios/public/assessment_on_time.json", "--as-of", "31/12/2024"); code == 0 {
		t.Fatal("a bad --as-of exited 0")
	}
}
