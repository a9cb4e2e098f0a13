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
 */
public interface BakeAmiDescriptor {
    String DISPLAY_NAME = "Bake a tested AMI";

    default FormValidation doCheckTemplate(@QueryParameter String value) {
        return BakeAmiForms.checkTemplate(value);
    }

    default FormValidation doCheckJunit(@QueryParameter String value) {
        return BakeAmiForms.checkOptionalPath(value);
    }

    default FormValidation doCheckManifest(@QueryParameter String value) {
        return BakeAmiForms.checkOptionalPath(value);
    }

    @POST
    default ListBoxModel doFillCredentialsIdItems(@AncestorInPath Item item, @QueryParameter String credentialsId) {
        return BakeAmiForms.fillCredentialsIdItems(item, credentialsId);
    }

    default ListBoxModel doFillOnErrorItems() {
        return BakeAmiForms.fillOnErrorItems();
    }
}
