# (rules being converted to the study contract)
