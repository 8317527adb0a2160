"""Links to the customer-relationship side: customer data and analytics over it."""
