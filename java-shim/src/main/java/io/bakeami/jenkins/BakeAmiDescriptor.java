package io.bakeami.jenkins;

import hudson.model.Item;
import hudson.util.FormValidation;
import hudson.util.ListBoxModel;
import org.kohsuke.stapler.AncestorInPath;
import org.kohsuke.stapler.QueryParameter;
import org.kohsuke.stapler.verb.POST;

/**
 * The form methods the step's and the builder's descriptors share. They cannot share a base
 * class (one is a StepDescriptor, the other a BuildStepDescriptor), so they share this
 * interface: Stapler finds web methods, default ones included, across the class and interface
 * hierarchy (ClassDescriptor.findMethods), and Descriptor looks doCheck and doFill methods up
 * with Class.getMethods, which lists them too. Public, so Stapler may invoke them.
 *
 * <p>Security (jenkins.io "Securely implementing form validation", the credentials plugin's
 * consumer guide): the methods that touch credentials are {@code @POST} (the form sends them
 * with {@code checkMethod="post"}) and look at the caller's permission on the job first; the
 * others only parse the text they are given or return a fixed list, so they need no check and
 * say so to the Jenkins security scan.
 */
public interface BakeAmiDescriptor {
    String DISPLAY_NAME = "Bake a tested AMI";

    @SuppressWarnings("lgtm[jenkins/no-permission-check]") // parses the given text only
    default FormValidation doCheckTemplate(@QueryParameter String value) {
        return BakeAmiForms.checkTemplate(value);
    }

    @SuppressWarnings("lgtm[jenkins/no-permission-check]") // parses the given text only
    default FormValidation doCheckJunit(@QueryParameter String value) {
        return BakeAmiForms.checkOptionalPath(value);
    }

    @SuppressWarnings("lgtm[jenkins/no-permission-check]") // parses the given text only
    default FormValidation doCheckManifest(@QueryParameter String value) {
        return BakeAmiForms.checkOptionalPath(value);
    }

    @POST
    default ListBoxModel doFillCredentialsIdItems(@AncestorInPath Item item, @QueryParameter String credentialsId) {
        return BakeAmiForms.fillCredentialsIdItems(item, credentialsId);
    }

    @POST
    default FormValidation doCheckCredentialsId(@AncestorInPath Item item, @QueryParameter String value) {
        return BakeAmiForms.checkCredentialsId(item, value);
    }

    @SuppressWarnings("lgtm[jenkins/no-permission-check]") // a fixed list
    default ListBoxModel doFillOnErrorItems() {
        return BakeAmiForms.fillOnErrorItems();
    }
}
