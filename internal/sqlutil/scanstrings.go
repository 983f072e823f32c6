package sqlutil

import "database/sql"

// ScanStrings reads the single text column of every row of a query and closes the rows;
// err is the query's own error, passed through (ScanStrings(db.QueryContext(…))).
func ScanStrings(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
