"""The crisis staff web portal: mission requests, status board, open data (issue 18)."""
