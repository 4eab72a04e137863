# The requests the benchmarks make, defined once (sourced by bench/run.sh and bench/pg.sh):
#   searches          every IPA SHALL search combination for pat-0001, as "Type?query" with a
#                     literal '|' (callers send it as %7C);
#   read_paths N W    writes W/ids (the ids of pat-0001's first 200 Observations in the
#                     generated N/Observation.ndjson) and W/paths.lua, a wrk script that reads
#                     them by id in turn;
#   bench_identity BIN STORE W
#                     adds to STORE the user `bench` (password `bench-password`, patient
#                     pat-0001) and the app `bench-app` that bench/token.py signs in with
#                     (the password file is W/pw).
# Sourcing defines only; it runs nothing.

searches=(
  "Patient?_id=pat-0001"
  "Patient?identifier=https://ipa-demo.example.org/fhir/sid/mrn|MRN10000001"
  "Observation?patient=pat-0001&category=laboratory"
  "Observation?patient=pat-0001&code=http://loinc.org|85354-9"
  "Observation?patient=pat-0001&category=vital-signs&date=ge2018-01-01"
  "DocumentReference?patient=pat-0001&category=http://loinc.org|34109-9"
  "DocumentReference?patient=pat-0001&type=http://loinc.org|11506-3"
  "DocumentReference?patient=pat-0001&category=34109-9&date=ge2015"
  "AllergyIntolerance?patient=pat-0001"
  "Condition?patient=pat-0001"
  "Immunization?patient=pat-0001"
  "MedicationRequest?patient=pat-0001"
  "MedicationStatement?patient=pat-0001"
)

read_paths() {  # ndjson_dir work_dir
  grep '"reference":"Patient/pat-0001"' "$1/Observation.ndjson" | head -200 |
    python3 -c 'import json,sys
for l in sys.stdin: print(json.loads(l)["id"])' > "$2/ids"
  cat > "$2/paths.lua" <<LUA
local paths = {}
for line in io.lines("$2/ids") do paths[#paths + 1] = "/fhir/Observation/" .. line end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
LUA
}

bench_identity() {  # bin store work_dir
  echo "bench-password" >"$3/pw"
  "$1" admin --store "$2" user add --username bench --password-file "$3/pw" \
    --fhir-user Patient/pat-0001 --patient pat-0001 >/dev/null
  "$1" admin --store "$2" client add --client-id bench-app \
    --redirect-uri http://127.0.0.1:9/callback >/dev/null
}
