package api_test

import (
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/sen2"
)

func TestAnLAsManagerTakesItsSEN2Return(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/v1/cases", strings.Replace(openBody, `"birth_date":"2015-05-01"`, `"birth_date":"2015-05-01","surname":"Byrne","upn":"B801200005001"`, 1)).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/decide_to_assess", `{"on":"2024-04-05","reason":"from the paper file"}`).want(t, 201)
	t.Run("an LA without its DfE number has no return", func(t *testing.T) {
		if r := h.do("GET", "/v1/las/"+homeLA+"/sen2?year=2025", "").want(t, 409); !strings.Contains(r.raw, "set_dfe_la_number") {
			t.Fatal(r.raw)
		}
	})
	h.do("POST", "/v1/las/"+homeLA+"/commands/set_dfe_la_number", `{"on":"2024-07-15","data":{"number":"201"}}`).want(t, 201)
	t.Run("a year no collection describes is refused", func(t *testing.T) {
		h.do("GET", "/v1/las/"+homeLA+"/sen2?year=1999", "").want(t, 422)
		h.do("GET", "/v1/las/"+homeLA+"/sen2", "").want(t, 422)
	})
	r := h.do("GET", "/v1/las/"+homeLA+"/sen2?year=2025", "").want(t, 200)
	m, err := sen2.Read(strings.NewReader(r.raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.LEA != "201" || len(m.Persons) != 1 || m.Persons[0].Surname != "Byrne" || m.Persons[0].Requests[0].ReceivedDate != "2024-03-01" {
		t.Fatalf("the return: %+v", m)
	}
	if r.header.Get("X-SEN2-Failures") == "0" || !strings.Contains(r.header.Get("Content-Disposition"), "sen2-"+homeLA+"-2025.xml") || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", r.header)
	}
	if csv := h.do("GET", "/v1/las/"+homeLA+"/sen2?year=2025&format=csv", "").want(t, 200); !strings.Contains(csv.raw, "\n1,Byrne,,2015-05-01,") {
		t.Fatalf("the readable copy:\n%s", csv.raw)
	}
	if log := h.do("GET", "/v1/las/"+homeLA+"/access-log?case=c1", "").want(t, 200).raw; !strings.Contains(log, "GET /v1/las/:la/sen2") {
		t.Fatalf("the return's reads are not in the access log:\n%s", log)
	}
}
