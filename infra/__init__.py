"""Deployment to AWS: the CloudFormation template, its generator and the deploy script."""
