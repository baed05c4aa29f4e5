"""DynamoDB models (PynamoDB). The only place, with channels/ and scenarios/deployer, that touches AWS."""
