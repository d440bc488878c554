-- wrk script: hybrid searches over the API, cycling through scripts/bench-web-queries.txt.
-- Usage (see scripts/bench-web.sh): wrk -s scripts/bench-web.lua http://127.0.0.1:PORT
local queries = {}
for line in io.lines(os.getenv("QUERIES") or "scripts/bench-web-queries.txt") do
  queries[#queries + 1] = line:gsub(" ", "+")
end
local i = 0
request = function()
  i = i + 1
  local q = queries[(i % #queries) + 1]
  return wrk.format("GET", "/api/v1/search?mode=hybrid&limit=10&q=" .. q)
end
